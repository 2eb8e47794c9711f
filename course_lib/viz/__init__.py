"""Plots and interpretation for the course: ``from course_lib import viz``.

* :mod:`course_lib.viz.plots`: images, kernels, feature maps, training curves,
  segmentation overlays, confusion matrices, activation percentiles, embeddings.
  Every plot returns a new ``Figure``, or the ``Axes`` passed as ``ax=``.
* :mod:`course_lib.viz.embed`: t-SNE and PCA maps and a separation score.
* :mod:`course_lib.viz.interpret`: top-activating patches, occlusion maps,
  activation maximization (lesson 13).
"""

from course_lib.viz.embed import embedding_separation, pca_embed, tsne_embed
from course_lib.viz.interpret import (
    ReceptiveField,
    TopPatches,
    activation_maximization,
    layer_output,
    layer_receptive_field,
    occlusion_map,
    top_activating_patches,
)
from course_lib.viz.plots import (
    activation_percentiles,
    plot_activation_percentiles,
    plot_confusion_matrix,
    plot_embedding,
    plot_heatmap,
    plot_history,
    plot_segmentation,
    show_feature_maps,
    show_image,
    show_images,
    show_kernels,
)

__all__ = [
    "ReceptiveField",
    "TopPatches",
    "activation_maximization",
    "activation_percentiles",
    "embedding_separation",
    "layer_output",
    "layer_receptive_field",
    "occlusion_map",
    "pca_embed",
    "plot_activation_percentiles",
    "plot_confusion_matrix",
    "plot_embedding",
    "plot_heatmap",
    "plot_history",
    "plot_segmentation",
    "show_feature_maps",
    "show_image",
    "show_images",
    "show_kernels",
    "top_activating_patches",
    "tsne_embed",
]
