"""The one-command demo: five experiments, weeks of simulated traffic, scheduled looks.

``splitlab demo`` builds it (:func:`splitlab.demo.setup.build_demo`) and serves the dashboard.
The experiment definitions ship with the package as JSON: the article's
``exp-checkout-flow-v3`` (with ``cart_abandonment_rate`` marked ``"direction": "decrease"``,
which the article leaves out), a search-ranking test whose guardrail breaks, an A/A, and one
experiment of each design (docs/designs.md): ``exp-pricing-annual-plan`` randomises accounts
(cluster) and ``exp-dispatch-batching`` switches 8 regions hourly (switchback); their traffic
is in :mod:`splitlab.demo.designed`.
"""
