"""§6 "Training a causal language model from scratch" (codeparrot-ds), one module per step.

* ``corpus``    step 1, gathering the data: keyword filter over a streaming dataset, sources, split
* ``tokenize``  step 2, preparing the dataset: the tokenizer, chunking, ``prepare_lm_datasets``
* ``model``, ``loss``, ``loop``, ... steps 3-6

Nothing is imported here on purpose: ``profiles.activate()`` must run before ``datasets`` or
``transformers`` is first imported, so import the submodules themselves
(``from course_utils.clm.corpus import load_raw_datasets``).
"""
