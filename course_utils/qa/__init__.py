"""§7 Question answering: data, windows, post-processing, metric (and, from colleagues, training).

Import-light on purpose: nothing here imports `datasets`, `transformers` or `torch`, so that
`course_utils.profiles.activate()` can still set the offline switches first. Import the
submodules you need, e.g. ``from course_utils.qa.data import load_qa_datasets``.

Public entry points of the data half:

* ``qa.data.load_qa_datasets(cfg)``                      -> DatasetDict(train, validation), `squad` schema
* ``qa.features.preprocess_training_examples(...)``       -> windows with start/end labels
* ``qa.features.preprocess_validation_examples(...)``     -> windows with example_id and context offsets
* ``qa.postprocess.compute_metrics(...)`` / ``predict_answers(...)`` -> EM/F1, predicted texts
* ``qa.squad_metric`` via ``qa.postprocess.load_squad_metric()`` -> a local `evaluate` module
"""
