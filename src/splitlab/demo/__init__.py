"""The one-command demo: nine experiments (a holdout among them), traffic and looks.

``splitlab demo`` builds it (:func:`splitlab.demo.setup.build_demo`) and serves the dashboard.
The experiment definitions ship with the package as JSON: the article's
``exp-checkout-flow-v3`` (with ``cart_abandonment_rate`` marked ``"direction": "decrease"``,
which the article leaves out), a search-ranking test whose guardrail breaks, an A/A, and one
experiment of each design (docs/designs.md): ``exp-pricing-annual-plan`` randomises accounts
(cluster) and ``exp-dispatch-batching`` switches 8 regions hourly (switchback), with their
traffic in :mod:`splitlab.demo.designed`; ``exp-orders-db-migration`` is a canary release and
``exp-onboarding-bandit`` a four-arm bandit, driven by the real canary monitor and bandit
updater in :mod:`splitlab.demo.adaptive`; ``exp-welcome-offer`` has a time-to-event and a
retention metric, with its orders and return visits in :mod:`splitlab.demo.lifetimes`.
"""
