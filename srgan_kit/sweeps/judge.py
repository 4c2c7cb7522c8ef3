"""Which perceptual metric may judge a sweep: one whose network none of its variants trains through.

A variant trained with a VGG perceptual loss has learned to please VGG features, so a VGG-based metric (DISTS)
flatters it; an AlexNet-based one (LPIPS, ST-LPIPS' AlexNet) or a metric without a learned network (NIQE) does
not. Torch-free: it reads resolved option dicts.
"""
# The network behind each learned perceptual metric (None: no learned network).
METRIC_NETWORKS = {"stlpips": "AlexNet", "stlpips_alex": "AlexNet", "lpips": "AlexNet", "dists": "VGG16",
                   "niqe": None}
# Perceptual-loss backbones (PerceptualLoss' vgg_type) and the network they are.
BACKBONE_NETWORKS = {"vgg11": "VGG11", "vgg13": "VGG13", "vgg16": "VGG16", "vgg19": "VGG19",
                     "stlpips_vgg": "VGG16", "lpips": "AlexNet"}
# Loss terms that train through a fixed network whatever their options say.
TERM_NETWORKS = {"DISTSLoss": "VGG16", "distsloss": "VGG16"}
JUDGE_ORDER = ("stlpips_alex", "stlpips", "lpips", "dists", "niqe")  # the first independent one ranks


def _terms(train):
    specs = [v for k, v in train.items() if k.endswith("_opt") and isinstance(v, dict)]
    return specs + [s for s in train.get("losses") or [] if isinstance(s, dict)]


def trained_networks(opt):
    """The networks the generator's loss terms of a resolved option dict look through."""
    networks = set()
    for spec in _terms(opt.get("train") or {}):
        kind = spec.get("type")
        if kind in TERM_NETWORKS:
            networks.add(TERM_NETWORKS[kind])
        elif "vgg_type" in spec or kind == "PerceptualLoss":
            weights = (spec.get("perceptual_weight", 1.0), spec.get("style_weight", 0.0))
            if any(w for w in weights):
                networks.add(BACKBONE_NETWORKS.get(spec.get("vgg_type", "vgg19"), spec.get("vgg_type")))
    return networks


def independent_metrics(opts, metrics):
    """The learned-perceptual or no-reference metrics of ``metrics`` that no option dict of ``opts`` trains on,
    best judge first."""
    used = set().union(*(trained_networks(opt) for opt in opts)) if opts else set()
    free = [m for m in metrics if m in METRIC_NETWORKS and METRIC_NETWORKS[m] not in used]
    return sorted(free, key=lambda m: JUDGE_ORDER.index(m) if m in JUDGE_ORDER else len(JUDGE_ORDER))


def describe_networks(opts):
    """'VGG16' / 'VGG16 and AlexNet' / 'no network': what a sweep's variants train through."""
    used = sorted(set().union(*(trained_networks(opt) for opt in opts))) if opts else []
    return " and ".join(used) if used else "no network"
