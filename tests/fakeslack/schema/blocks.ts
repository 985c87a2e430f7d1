// The two shapes the fake Slack validates, named from @slack/types so the generator emits
// one schema holding both: a message's `blocks` and a `views.publish` view.
import type { KnownBlock, HomeView } from "@slack/types";

export type MessageBlocks = KnownBlock[];
export type PublishedView = HomeView;
