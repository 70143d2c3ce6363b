"""``make demo``: what ``make run`` starts, seeded with a Tianjin data set through the public
APIs only (``python -m scripts.demo``)."""
