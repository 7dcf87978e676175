"""The sane range of every number a config holds, declared once.

A value outside its range is refused at the door (`ConfigError` naming its field), so that nothing
downstream meets a number it cannot hold: real values go into float32 tensors (largest about
3.4e38, smallest normal about 1.2e-38), counts into int64 and SQLite INTEGER columns (at most
2**63 - 1), seeds into torch's and numpy's generators. The ranges are far wider than any useful run
and far inside what the types hold; whether a run of legal values fits the device's memory is
checked separately, when it is built (`explorer.engine.footprint`).

Example:
    >>> MAX_EPOCHS, MAX_WIDTH, MAX_LR, MAX_SEED == 2**63 - 1
    (1000000, 1000000, 1000000.0, True)
"""

MAX_EPOCHS = 10**6
MAX_SAMPLES = 10**8          # samples of a dataset's split, and so the largest batch
MAX_STEPS = 10**15           # train.log_every: steps, exact in a float64 and an int64
MAX_WIDTH = 10**6            # units of one hidden layer, input features of a generated dataset
MAX_LAYERS = 1024            # hidden layers of an MLP (and so a block size or a BP depth)
MAX_CLASSES = 10**5
MAX_SEED = 2**63 - 1         # torch.manual_seed and an SQLite INTEGER take it
MAX_DATA_SEED = 2**32 - 1    # numpy's and scikit-learn's legacy seeding take no more
MAX_PROBE = 10_000           # train.snapshot_samples
MAX_CROP_PADDING = 1024      # train.augment.crop_padding: zero pixels around an image before a crop
MAX_MILESTONES = 1024        # optimizer.schedule.milestones: epochs where the rate changes
MAX_IMAGE_SIDE = 1024        # data.resize: height and width of a resized image
MAX_DROPOUT = 1 - 1e-6       # model.dropout: the largest drop probability (1 would drop every unit)

MAX_MAGNITUDE = 1e6          # initialisers' low, high, mean, std and gain; uSF's scale; weight decay; noise
MAX_LR = 1e6                 # far past divergence (tests and demos diverge a run on purpose with 1e6)
MIN_POSITIVE = 1e-12         # the smallest learning rate, std, gain or scale (a float32 keeps it apart from 0)
MAX_MOMENTUM = 1 - 1e-6      # the largest momentum a float32 keeps apart from 1
MAX_DIVERGE_FACTOR = 1e30    # train.diverge's factors (> 1): past it a float32 loss or norm could not show it
