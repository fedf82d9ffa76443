// npm run bridge:googlechat -- --config FILE            runs the bridge
// npm run bridge:googlechat -- --config FILE --generate-registration OUT
//                                                       writes the homeserver's registration file
import { runBridgeMain } from "../kit/main.js";
import { GoogleChatBridge } from "./bridge.js";
import { loadConfig } from "./config.js";

void runBridgeMain("googlechat", loadConfig, (config, dbUrl) => new GoogleChatBridge(config, dbUrl), []);
