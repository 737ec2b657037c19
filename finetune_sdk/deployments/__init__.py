"""Deployments: from a finished job to a live endpoint and back.

```python
dep = client.models.deploy(client.models.resolve(job))   # ledger row first, at most one
dep = client.models.wait_ready(dep)
print(chat(dep, "hello"))
client.models.undeploy(dep)                               # stops the bill
```

``model.py`` has the types and the intent key, ``store.py`` the ledger table, ``lifecycle.py``
the create-once / wait / delete rules, ``meter.py`` prices and idle time, ``backends.py`` which
vendor module serves which provider (``providers/<vendor>/deployments.py``).
"""

from __future__ import annotations

from .model import Deployment, DeploymentError, DeploymentSpec, DeploymentStatus

__all__ = ["Deployment", "DeploymentError", "DeploymentSpec", "DeploymentStatus"]
