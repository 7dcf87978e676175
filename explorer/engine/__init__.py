"""The engine: from a config to a trained network. Building a run (`build`), the training loop
(`trainer`, `seeds` for several seeds as one batched network), its parts (`losses`, `optim`,
`tally`, `device`) and what it measures (`metrics`, `representations`).

It reads rules, models, data and config; it knows nothing of the run store or any front end.
"""
