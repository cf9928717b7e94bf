// Reading and writing the view in the page address (the format is url_state.js's). The plugin's
// iframe is same-origin with TensorBoard's page, whose address the user sees and shares.

import { choiceMemory } from "./panel_kit.js";
import { searchWithView, viewFromSearch } from "./url_state.js";

/**
 * The page whose address holds the view: TensorBoard's (the plugin's iframe is same-origin), or
 * the plugin's own page when opened alone.
 */
function addressPage() {
  try {
    void window.parent.location.search;
    return window.parent;
  } catch (_) {
    return window;
  }
}

/** The view named by the page address (url_state.js), e.g. `?inspect_run=ctr#keras_inspect`. */
export function viewFromUrl() {
  const page = addressPage();
  return viewFromSearch(page.location.search, navigationUrl(page));
}

/**
 * Writes what of the view differs from the defaults into the page address (replaceState: no
 * history entry per click), while this tab is the one shown.
 */
export function writeUrl(selection) {
  const page = addressPage();
  try {
    const { hash, pathname, search } = page.location;
    if (page !== window && hash && !hash.startsWith("#keras_inspect")) return; // another tab is shown
    const next = searchWithView(search, { ...selection.view, options: choiceMemory.values });
    if (next !== search) page.history.replaceState(page.history.state, "", `${pathname}${next}${hash}`);
  } catch (_) {
    // An address that cannot be written (a sandboxed embedding) only loses the sharing.
  }
}

function navigationUrl(page) {
  try {
    const [entry] = page.performance.getEntriesByType("navigation");
    return entry ? entry.name : "";
  } catch (_) {
    return "";
  }
}
