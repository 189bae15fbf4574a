"""The one table of roles: who exists, and the role sets the routes let in.

Every other module (auth, the routers, the CLI, the console) takes its roles from here, so a new
role is added once.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    DISPATCHER = "dispatcher"  # the 24-hour command centre's desk
    MAINTAINER = "maintainer"  # camera upkeep
    GRID_WORKER = "grid_worker"  # 网格员: reports, and verifies handled orders on site
    DEPARTMENT = "department"  # a handling department's staff, bound to one department
    ADMIN = "admin"
    EDGE = "edge"  # an edge node, bound to its node


#: People (every role but an edge node's): the console's and the work orders' users.
USER_ROLES: tuple[str, ...] = (
    Role.DISPATCHER.value,
    Role.MAINTAINER.value,
    Role.GRID_WORKER.value,
    Role.DEPARTMENT.value,
    Role.ADMIN.value,
)
ALL_ROLES: tuple[str, ...] = (*USER_ROLES, Role.EDGE.value)
EDGE = Role.EDGE.value
DEPARTMENT = Role.DEPARTMENT.value
GRID_WORKER = Role.GRID_WORKER.value

# Role sets of the routes.
USERS = USER_ROLES
DESK: tuple[str, ...] = (Role.DISPATCHER.value, Role.ADMIN.value)
OPS: tuple[str, ...] = (Role.DISPATCHER.value, Role.MAINTAINER.value, Role.ADMIN.value)
EDGES: tuple[str, ...] = (EDGE,)
#: Who may read the evaluation figures (a department sees its own orders' only).
EVALUATORS: tuple[str, ...] = (Role.DISPATCHER.value, Role.ADMIN.value, DEPARTMENT)
