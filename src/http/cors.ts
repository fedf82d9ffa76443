// CORS for browser clients. https://spec.matrix.org/latest/client-server-api/#web-browser-clients
// Every response carries the headers; OPTIONS is answered here and never reaches a handler.
import type { NextFunction, Request, Response } from "express";

export function cors(origins: readonly string[]) {
  const any = origins.includes("*");
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.headers.origin;
    if (any) res.setHeader("Access-Control-Allow-Origin", "*");
    else if (origin && origins.includes(origin)) {
      res.setHeader("Access-Control-Allow-Origin", origin);
      res.setHeader("Vary", "Origin");
    }
    res.setHeader("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    res.setHeader("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization");
    if (req.method === "OPTIONS") {
      // 200 with an empty JSON object, as the reference homeserver answers.
      res.status(200).type("application/json").send("{}");
      return;
    }
    next();
  };
}
