"""Outbound notifications: feed events routed to departments, grid workers, leads and maintenance
over webhooks, WeCom and DingTalk robots and SMS gateways, through a durable queue in the database.

``rules`` (which event tells whom what) and ``formats`` (each channel's request) are pure;
``queue`` is the database side, ``sender`` one HTTP attempt, ``notifier`` the thread that runs them.
"""
