// Loads the dashboard's stylesheet and plotly.js, both served by the plugin itself (the
// TensorBoard CSP allows same-origin scripts only, and no inline scripts). URLs are relative to
// the document's <base href>.

const PLOTLY_URL = "./vendor/plotly.min.js";
let plotlyPromise = null;

/**
 * Starts downloading plotly.js without running it (<link rel=preload>): the download overlaps
 * with the data requests, and the costly script evaluation happens only when loadPlotly() is
 * called. Call loadPlotly() soon after, or the browser warns about an unused preload.
 */
export function preloadPlotly() {
  if (window.Plotly || document.querySelector("link[data-ki-plotly]")) return;
  const link = document.createElement("link");
  link.rel = "preload";
  link.as = "script";
  link.href = PLOTLY_URL;
  link.setAttribute("data-ki-plotly", "");
  document.head.append(link);
}

/** Resolves with window.Plotly once ./vendor/plotly.min.js has run (loaded at most once). */
export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyPromise) {
    plotlyPromise = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = PLOTLY_URL;
      script.async = true;
      const started = performance.now();
      script.addEventListener("load", () => {
        performance.measure("ki-plotly", { start: started, end: performance.now() });
        if (window.Plotly) resolve(window.Plotly);
        else reject(new Error("plotly.js loaded but did not define window.Plotly"));
      });
      script.addEventListener("error", () => reject(new Error("could not load plotly.js")));
      document.head.append(script);
    });
    plotlyPromise.catch(() => {
      plotlyPromise = null; // allow a retry on the next reload
    });
  }
  return plotlyPromise;
}

/** Adds the stylesheet (once) and resolves when it has loaded or failed. */
export function loadStyle(href = "./static/style.css") {
  const existing = document.querySelector("link[data-ki-style]");
  if (existing) return Promise.resolve();
  return new Promise((resolve) => {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    link.setAttribute("data-ki-style", "");
    link.addEventListener("load", () => resolve());
    link.addEventListener("error", () => resolve()); // unstyled beats blank
    document.head.append(link);
  });
}
