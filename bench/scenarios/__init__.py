"""The measuring sub-commands of `python -m bench`, one module each.

Owns: every scenario (connect, fanout, lobby, changes, dm, api, cluster, artillery, floor,
redis) and the pieces they share: command-line options (options.py), taking a scenario
through each target (runner.py), who connects and who sends (plans.py), rate steps
(steps.py) and py-spy profiles (profile.py). Each scenario module has `register(sub)`,
which adds its sub-command and sets `fn=run`; bench/cli.py only collects them.
Must not: assert anything (numbers are recorded, not judged), or write anywhere but
bench/results/ (through bench.common.save_result and the profile files).
"""
