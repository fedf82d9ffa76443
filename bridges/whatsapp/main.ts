// npm run bridge:whatsapp -- --config FILE            runs the bridge
// npm run bridge:whatsapp -- --config FILE --generate-registration OUT
//                                                     writes the homeserver's registration file
import { runBridgeMain } from "../kit/main.js";
import { WhatsAppBridge } from "./bridge.js";
import { loadConfig } from "./config.js";

void runBridgeMain("whatsapp", loadConfig, (config, dbUrl) => new WhatsAppBridge(config, dbUrl), ["whatsapp"]);
