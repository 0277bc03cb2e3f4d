"""`fab TASK...` in a checkout runs the same tasks as the `mailcert` console script."""

from mailcert.tasks import namespace

ns = namespace()
