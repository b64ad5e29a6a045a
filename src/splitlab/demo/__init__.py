"""The one-command demo: three experiments, weeks of simulated traffic, scheduled looks.

``splitlab demo`` builds it (:func:`splitlab.demo.setup.build_demo`) and serves the dashboard.
The experiment definitions ship with the package as JSON: the article's
``exp-checkout-flow-v3`` (with ``cart_abandonment_rate`` marked ``"direction": "decrease"``,
which the article leaves out), a search-ranking test whose guardrail breaks, and an A/A.
"""
