"""Response shaping: every FlowService response body is built here, from immutable engine state or
arrays copied under the service lock. One module per response family:

* :mod:`~zdte_tui.service.views.format`: numbers (finite or None) and ISO times.
* :mod:`~zdte_tui.service.views.snapshot`: ``snapshot`` (and the no-0DTE / session-closed bodies).
* :mod:`~zdte_tui.service.views.series`: ``series``, ``hedge_flow``, ``heatmap``, ``strike_flow``.
* :mod:`~zdte_tui.service.views.signals`: ``signals``.
* :mod:`~zdte_tui.service.views.leaderboard`: ``leaderboard``.
* :mod:`~zdte_tui.service.views.status`: ``status`` and the response envelope's ``data_as_of``.
"""
