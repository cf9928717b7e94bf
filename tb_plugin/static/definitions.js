// What each panel's numbers mean: a short definition per panel id, for an info popover or a
// tooltip next to the panel title. The wording follows keras-inspect's quantity vocabulary and
// the seed papers, paraphrased (never quoted), and each text ends with where the definition
// comes from so a user can look it up. Plain text only: callers set it with textContent.
//
// `quantities` lists the recorded quantities the panel shows (its registry entry's
// `quantities`; a test keeps the two in step). Citations name sections and figures of the
// papers the methods come from: Guo et al. 2018 (CTR DNN visualisation), Siddiqui et al. 2018
// (TSViz), Shen et al. (CNNSlicer), Iuzzolino et al. (interactive CNN visualisation) and
// Kornblith et al. 2019 (similarity of neural network representations, linear CKA).

const GUO = "Guo et al. 2018";
const TSVIZ = "Siddiqui et al. 2018 (TSViz)";
const SLICER = "Shen et al. (CNNSlicer)";
const IUZZOLINO = "Iuzzolino et al.";
const KORNBLITH = "Kornblith et al. 2019";

/**
 * One definition. The citation is kept apart in `source` (for a link or a footnote) and also
 * closes `text`, so a caller that shows only the text still shows where it comes from.
 */
function entry(quantities, body, source) {
  return Object.freeze({ text: `${body} Source: ${source}.`, source, quantities: Object.freeze([...quantities]) });
}

export const DEFINITIONS = Object.freeze({
  loss: entry(
    [],
    "The loss and metrics that Keras itself logs during fit, per run, with training and validation " +
      "curves against the same steps as every other panel (epochs by default). A validation curve " +
      "that turns upwards while the training curve keeps falling is the usual sign of over-fitting, " +
      "and the step where the two part is a good place for the checkpoint cursor. These are Keras' " +
      "own numbers, written as native TensorBoard scalars; keras-inspect does not compute them.",
    `Keras training logs; ${IUZZOLINO}, Section 3.1 (accuracy and loss per epoch)`,
  ),
  overview: entry(
    ["model_layers"],
    "A map of the model rather than a measurement: every layer in call order with its type, " +
      "output shape and parameter count, and which quantities were recorded for it. Use it to find " +
      "the layer names the other panels refer to and to check which layers were inspected at all; " +
      "a layer left out by InspectCallback(layers=...) or without an output worth inspecting has " +
      "nothing recorded. It is written once, with a run's first checkpoint.",
    `${TSVIZ}, Section 5, Fig. 2 (first level); ${SLICER}, Section 5.1, Fig. 3(A)`,
  ),
  model_auc: entry(
    ["model_auc"],
    "The area under the ROC curve of the model's own output on each dataset, over training: the " +
      "chance that a random positive sample is scored above a random negative one (0.5 is guessing, " +
      "1 a perfect ranking); with several classes, the macro average of one-vs-rest AUCs. Training " +
      "AUC that keeps rising while test AUCs peak and then fall marks over-fitting, and the gap " +
      "between test datasets at one step shows how far they have drifted from the training data. AUC " +
      "only ranks scores, so it says nothing about calibration, and it needs class labels: a " +
      "regressor has no model AUC (read its loss instead).",
    `${GUO}, Section 3.1, Fig. 1; recorded as model_auc`,
  ),
  score_hist: entry(
    ["model_score_histogram"],
    "The distribution of the predicted score at the chosen checkpoint, as a density per true class " +
      "and dataset. For a binary model the score is the output itself; with several classes it is " +
      "the probability the model gives each sample's true class. Comparing datasets within one class " +
      "shows where an AUC drop comes from (positives scored lower on a later test set, say) and " +
      "whether the scores collapse towards one value as training goes on. The split by label exists " +
      "for classifiers only: with continuous labels, or none, there is a single histogram of all " +
      "predictions.",
    `${GUO}, Section 3.1, Fig. 2; recorded as model_score_histogram`,
  ),
  neurons: entry(
    ["neuron_mean", "neuron_std"],
    "For every unit of the chosen layer, the mean and the standard deviation of its output over a " +
      "dataset's fixed sample at the chosen checkpoint (for convolutions and sequences, over samples " +
      "and positions together). A unit with both close to zero hardly responds to anything. A unit " +
      "whose spread is clearly larger on the training data than on test data has become " +
      "over-sensitive to the training inputs, a pattern that grows with over-fitting. Compare " +
      "datasets unit by unit at one step; absolute values differ from layer to layer.",
    `${GUO}, Section 3.2, Figs. 3-6`,
  ),
  layer_std: entry(
    ["layer_std"],
    "A layer's per-unit output standard deviation averaged over its units, per dataset. It needs " +
      "no labels, so it is a drift signal for unlabelled or serving data: compare the datasets at " +
      "one checkpoint, where one far from train is data the model treats differently. Over steps it " +
      "also moves because the weights change, so a trend across training mixes learning with drift.",
    `${GUO}, Section 3.2, Fig. 7, and Section 5 (monitoring without labels); recorded as layer_std`,
  ),
  dead_units: entry(
    ["dead_fraction"],
    "The share of a layer's units that are active on almost no sample of a dataset (at most 1 % of " +
      "them), over training. A dead fraction that climbs means units that have stopped contributing " +
      "(for ReLU layers, units stuck at zero); a layer far above its neighbours has capacity to spare. " +
      "The output layer is left out: its units are scores.",
    `${GUO}, Section 3.2 (neuron statistics, Figs. 3-6); recorded as dead_fraction`,
  ),
  correlation: entry(
    ["correlation_mean_abs", "correlation_matrix"],
    "The Pearson correlation between every pair of units of a layer over a dataset's sample, taken " +
      "before the activation where the layer fuses one, and its summary: the mean absolute " +
      "off-diagonal correlation (units that never vary are left out of it). High values mean units " +
      "that move together and so carry overlapping information, a hint of redundancy or " +
      "co-adaptation; in Guo et al.'s network it grew with depth. For wide layers the matrix covers a fixed " +
      "random subset of units, the same at every checkpoint.",
    `${GUO}, Section 3.2, Fig. 8, and Section 4.2; recorded as correlation_matrix and correlation_mean_abs`,
  ),
  probes: entry(
    ["probe_auc", "probe_r2"],
    "How much of the label a simple linear model can read from each layer: a logistic-regression " +
      "probe is fitted on the train sample's layer output with the network held fixed, then scored " +
      "by AUC on every dataset; for continuous targets a ridge probe is scored by R² (probe_r2) " +
      "instead. A layer whose probe does no better than the previous layer's adds little and is a " +
      "candidate for removal. The train score is measured on the rows the probe was fitted on, so it " +
      "is optimistic; judge layers on the test datasets. A probe shows what is linearly decodable, " +
      "not what the network actually uses.",
    `${GUO}, Section 3.3, Fig. 10, and Section 4.1; recorded as probe_auc / probe_r2`,
  ),
  cka_steps: entry(
    ["cka_previous"],
    "Linear CKA between a layer's representation at a checkpoint and at the one before, on the same " +
      "fixed rows of the reference dataset: the centred Gram matrices K of both are compared as " +
      "⟨K, L⟩ / (||K|| ||L||). 1 means the layer did not change (up to a rotation or a scale); a " +
      "line that climbs to 1 and stays is a layer that has stopped learning. The estimator is " +
      "biased: with few rows (at most 256) and wide layers even unrelated representations score " +
      "above 0, so read the trend, not the level. A few outlier rows can dominate the Gram, and " +
      "float16 storage adds ~1e-3. There is no value at a training's first checkpoint.",
    `${KORNBLITH}, "Similarity of Neural Network Representations Revisited" (CKA with a linear kernel); recorded as cka_previous`,
  ),
  cka_runs: entry(
    ["cka_gram"],
    "Linear CKA between every layer of one run and every layer of another at a checkpoint, from " +
      "each layer's centred Gram matrix K = Xc Xc^T on the same fixed rows: ⟨K, L⟩ / (||K|| ||L||). " +
      "A value near 1 pairs layers that represent the data alike (up to a rotation or a scale), " +
      "whatever their widths; a run against itself shows which of its layers are redundant. The " +
      "estimator is biased: with n <= 256 rows and wide layers unrelated layers score above 0; a " +
      "few outlier rows can dominate a Gram; float16 storage adds ~1e-3. Runs are compared only on " +
      "identical rows (same dataset, max_samples and seed), otherwise the comparison is refused.",
    `${KORNBLITH}, "Similarity of Neural Network Representations Revisited" (CKA with a linear kernel); recorded as cka_gram and cka_rows`,
  ),
  projection: entry(
    ["projection"],
    "A fixed sub-sample of a dataset after the chosen layer, mapped to two dimensions with t-SNE (or " +
      "PCA) and coloured by label; each checkpoint's layout starts from the previous one, so moving " +
      "the cursor shows the representation changing rather than a fresh random picture. Samples of " +
      "one label gathering into their own regions suggest a layer that separates the classes. t-SNE " +
      "keeps neighbourhoods, not global geometry: the distances between clusters, their sizes and " +
      "the empty space between them carry no meaning, and PCA shows only the two directions of " +
      "largest variance.",
    `${GUO}, Section 3.2, Fig. 9; recorded as projection`,
  ),
  samples: entry(
    ["feature_maps", "prediction_probs"],
    "A few fixed samples of a dataset followed through the network at the chosen checkpoint: the " +
      "input as the model receives it, the chosen layer's activations for it (a convolution's " +
      "channels as small images, a sequence layer's channels over time, a dense layer's units) and " +
      "the model's output. Each feature map is scaled to its own range, so compare patterns rather " +
      "than brightness across channels. For a classifier the output is the class probabilities with " +
      "the true class marked; for a regressor, the predicted value beside the true one. These are " +
      "single examples that make other panels' averages concrete, not statistics.",
    `${IUZZOLINO}, Section 3.1, Fig. 3 (feature maps and prediction probabilities); ${TSVIZ}, Section 5, Figs. 3-5`,
  ),
  weights_hinton: entry(
    ["weights_hinton"],
    "The chosen layer's weight matrix at the chosen checkpoint as a Hinton diagram: one square per " +
      "weight, its area proportional to the magnitude and its colour giving the sign (blue positive, " +
      "red negative here). Inputs run down and units across, so a row of tiny squares is an input " +
      "the layer ignores and a column of tiny squares a unit with almost no incoming weight. Large " +
      "kernels are shown as means of at most 32 x 32 blocks (a convolution kernel summed over its " +
      "window first), and weights of opposite sign inside a block cancel out.",
    `${IUZZOLINO}, Section 2.1.2 (Hinton diagrams); recorded as weights_hinton`,
  ),
  saliency: entry(
    ["feature_saliency"],
    "How sensitive the model output is to each feature group: the magnitude of the gradient of the " +
      "output with respect to the group's input (for id features, their embedding's output), " +
      "averaged over the group's dimensions and then over the samples. A group that climbs far above " +
      "the rest late in training, such as a high-cardinality user id, is a sign that the model is " +
      "memorising it. A gradient measures local sensitivity, not the share of a prediction a group " +
      "is responsible for, and groups of different scale or width compare only roughly.",
    `${GUO}, Section 3.4, Eq. 3, Fig. 11, and Section 4.3; recorded as feature_saliency`,
  ),
  importance: entry(
    ["filter_importance"],
    "The influence of each unit or filter of the chosen layer on the model output: the magnitude of " +
      "the output's gradient with respect to the unit's pre-activation, summed over positions, " +
      "averaged over the samples and min-max scaled within the layer to [0, 1]. Units near zero barely affect the " +
      "prediction on this sample and are candidates for pruning; the percentile filter keeps only " +
      "the most influential. Because of the scaling, values rank units within one layer at one step " +
      "and are not comparable across layers or checkpoints (the top unit is 1 whenever units differ).",
    `${TSVIZ}, Section 3.2, Eqs. 11, 12 and 16, Figs. 3, 4 and 7; recorded as filter_importance`,
  ),
  clusters: entry(
    ["filter_clusters"],
    "Units of the chosen layer grouped by the shape of their response: each unit's activations " +
      "over the same rows are min-max scaled, so scale does not count, and clustered with k-means++ " +
      "(k = units / 5, at least 2); units that never change form a group of their own. Large " +
      "clusters are sets of near-duplicate units, a sign of little diversity in the layer, and show " +
      "as bright blocks in the correlation matrix ordered by cluster. Cluster numbers are arbitrary " +
      "labels, matched from one checkpoint to the next only to keep colours steady.",
    `${TSVIZ}, Section 3.3, Eqs. 17-19, Fig. 5 (right, fourth level); recorded as filter_clusters`,
  ),
  input_saliency: entry(
    ["input_saliency"],
    "Which points of one fixed input sample the model output, and the chosen layer, respond to: " +
      "the magnitude of the gradient of each with respect to every input value, drawn over the input " +
      "itself. Salient points are where a small change of the input would move that output most. " +
      "Each map is scaled to its own maximum, because the output's and a layer's gradients differ in " +
      "size, so compare where maps peak, not their heights; and it describes a single sample, not " +
      "the dataset.",
    `${TSVIZ}, Section 3.2, Eqs. 13-15, Fig. 6 (right); recorded as input_saliency`,
  ),
  information: entry(
    ["entropy_label_given_pred", "entropy_pred_given_label", "confusion_matrix"],
    "Two conditional entropies in bits from a classifier's predictions, per class, over training, " +
      "and the confusion matrix (rows: true class, columns: predicted class). H(label | pred = i) is " +
      "high when the samples predicted as i come from a mix of true classes; H(pred | label = i) is " +
      "high when the predictions for true class i are scattered. A low H(label | pred = i) means " +
      "consistency, not correctness: a class fed mostly by one wrong class scores low too, and a " +
      "class never predicted has no value at all. Classification only.",
    `${SLICER}, Section 5.2, Fig. 4(A-C), Figs. 6 and 7; recorded as entropy_label_given_pred, entropy_pred_given_label, confusion_matrix`,
  ),
  entropy_inter: entry(
    ["entropy_inter"],
    "How diverse a set of samples is, in bits, in the input and after each layer: a k-nearest-" +
      "neighbour graph of the samples with an adaptive exponential kernel turns distances into " +
      "probabilities, made symmetric and normalised, whose Shannon entropy is taken. A drop from one " +
      "layer to the next is information the layer discards; a low input value means a sample that " +
      "is not very varied. The value grows with the number of samples, so compare layers and steps " +
      "of one dataset, not datasets of different sizes.",
    `${SLICER}, Section 4.4.1, Eqs. 4-7, Figs. 4(D) and 5; recorded as entropy_inter`,
  ),
  entropy_intra: entry(
    ["entropy_intra"],
    "How much detail a channel's feature maps keep: each map's values are normalised to (-1, 1), " +
      "put in 32 equal bins, and the Shannon entropy of that histogram (0 to 5 bits) is averaged over " +
      "the samples of a class. A constant map, as from a dead channel, has entropy 0; higher values " +
      "mean more varied values within a map. Channels whose entropy differs strongly between classes " +
      "respond to class-specific content, which is more common in deeper layers. It measures the " +
      "spread of values inside a map, not how useful they are for the label.",
    `${SLICER}, Sections 4.4.2 and 5.4, Figs. 13(A-B) and 14; recorded as entropy_intra`,
  ),
  channel_capacity: entry(
    ["channel_capacity"],
    "For every channel of an earlier layer and every channel of a later one, H(X) - H(X | Y) in " +
      "bits: the pairwise distances between samples' feature maps in each channel are binned into a " +
      "2-D histogram, and the entropies come from it. High values mean the later channel still " +
      "reflects how the earlier one tells samples apart; a heatmap that fades during training means " +
      "the later layer has learned to discard that information. Sorting rows and columns by maximum " +
      "or mean brings similar channels together. Strictly this is the mutual information on this " +
      "sample, which depends on the bins and the rows used, so compare one layer pair across steps.",
    `${SLICER}, Eq. 3 (Section 3.2) and Section 5.3, Figs. 8 and 10-12; recorded as channel_capacity`,
  ),
});

/** The definition of panel `panelId` ({text, source, quantities}), or null for an unknown id. */
export function definitionOf(panelId) {
  return Object.hasOwn(DEFINITIONS, panelId) ? DEFINITIONS[panelId] : null;
}
