"""Measuring the taggers against hand labels: `label-sample` (stratified sample to label),
`evaluate` (precision / recall / specificity per population into evaluation.json), the labels file
format. The rate correction itself lives in profiler.stats.correction."""
