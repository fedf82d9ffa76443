// WhatsApp text formatting ⇄ Matrix HTML. WhatsApp: *bold*, _italic_, ~strike~, ```mono```.

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** WhatsApp text → Matrix HTML, or null when it has no formatting. */
export function waToHtml(text: string): string | null {
  if (!/[*_~`]/.test(text)) return null;
  let html = esc(text)
    .replace(/```([\s\S]+?)```/g, "<code>$1</code>")
    .replace(/(^|[\s(])\*(\S(?:[^*\n]*\S)?)\*(?=$|[\s).,!?:;])/g, "$1<strong>$2</strong>")
    .replace(/(^|[\s(])_(\S(?:[^_\n]*\S)?)_(?=$|[\s).,!?:;])/g, "$1<em>$2</em>")
    .replace(/(^|[\s(])~(\S(?:[^~\n]*\S)?)~(?=$|[\s).,!?:;])/g, "$1<del>$2</del>");
  html = html.replace(/\n/g, "<br>");
  return html === esc(text).replace(/\n/g, "<br>") ? null : html;
}

/** Matrix HTML → WhatsApp text (formatting kept where WhatsApp has it, tags dropped otherwise). */
export function htmlToWa(html: string): string {
  return html
    .replace(/<mx-reply>[\s\S]*?<\/mx-reply>/gi, "")
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<\/p>\s*<p>/gi, "\n\n")
    .replace(/<(strong|b)>([\s\S]*?)<\/\1>/gi, "*$2*")
    .replace(/<(em|i)>([\s\S]*?)<\/\1>/gi, "_$2_")
    .replace(/<(del|s|strike)>([\s\S]*?)<\/\1>/gi, "~$2~")
    .replace(/<pre><code[^>]*>([\s\S]*?)<\/code><\/pre>/gi, "```$1```")
    .replace(/<code>([\s\S]*?)<\/code>/gi, "```$1```")
    .replace(/<a [^>]*href="([^"]*)"[^>]*>([\s\S]*?)<\/a>/gi, (_m, href: string, text: string) => (text === href ? href : `${text} (${href})`))
    .replace(/<li>/gi, "• ").replace(/<\/li>/gi, "\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&#39;/g, "'").replace(/&amp;/g, "&")
    .trim();
}
