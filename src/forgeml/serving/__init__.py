"""Model serving: endpoints, deployments and the scoring code that runs inside them."""
