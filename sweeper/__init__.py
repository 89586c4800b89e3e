"""The host side: the sweep pass (``sweep.py``) and the loop that runs it (``loop.py``)."""
