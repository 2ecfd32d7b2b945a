"""alignrec: one system from interaction logs to a served, simulated and measured model.

The distribution's code lives in the top-level packages ``recsys``, ``product``,
``simulators`` and ``serving``; this small package only holds the ``alignrec``
command, its demo (the README's main job) and project-wide settings.
"""

__version__ = "0.1.0"
