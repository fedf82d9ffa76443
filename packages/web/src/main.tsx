// Ganglion's web client: the entry point the bundle starts from.
import { render } from "preact";
import { App } from "./ui/App.js";

render(<App />, document.getElementById("app")!);
