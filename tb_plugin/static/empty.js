// What a new user sees when the logdir has no keras_inspect data: what to add to model.fit.

import { el } from "./dom.js";

const SAMPLE = [
  "import keras_inspect as ki",
  "",
  'model.fit(x, y, callbacks=[ki.InspectCallback("logs/run1", {"train": (x, y), "test1": (x_test, y_test)})])',
].join("\n");

/** The empty state: <div class="ki-empty"> with a short how-to and a code sample. */
export function emptyState() {
  return el("div", {
    className: "ki-empty",
    children: [
      el("h2", { text: "No keras-inspect data in this logdir yet" }),
      el("p", {
        text: "Add the InspectCallback to model.fit; at every checkpoint it records, per layer and dataset, the statistics this tab draws (model AUC, score distributions, neuron mean and std, correlations, linear probes).",
      }),
      el("pre", { children: [el("code", { text: SAMPLE })] }),
      el("p", {
        children: [
          "Then start TensorBoard on the parent directory, ",
          el("code", { text: "tensorboard --logdir logs" }),
          ", and open this tab; new runs appear on the next reload.",
        ],
      }),
    ],
  });
}
