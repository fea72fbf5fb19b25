"""Step 2 of the flow: one ``Scenario`` and a replication number in, one run's event log out.

The escalation model: response policies as pure functions (``policies``), the accounts actors
keep of what they suffered and answered (``memory``), actors that decide (``actors``), strikes
that fly (``strikes``), layered interception (``interception`` and the per-layer walk in
``engagement``), rounds that start from a stated history (``history``), proxies' own campaigns
(``campaigns``), ceasefires and settled rounds (``endings``), the random streams every draw comes
from (``rng``), and the world that wires them on one SimPy clock (``world``, the only module that
knows them all). A run hands on a list of event records (``events``); ``outcomes`` reduces a log
to one row of results and ``trace`` prints it as a timeline. Imports only from ``sim.scenario``.
"""
