"""``sparsewave convert``: a trainer's checkpoint -> a .sw weight file the engine has loaded once."""
from __future__ import annotations

import json

from .._atomic import atomic_write
from .._paths import check_input_file, check_output_file
from .argtypes import positive_int
from .errors import EXIT_OK, CliError, UsageError, one_line


def register(sub, common) -> None:
    from ..converters import SOURCES

    c = sub.add_parser("convert", parents=[common], help="convert a trainer checkpoint to a .sw weight file",
                       description="Convert a WaveRNN checkpoint (geneing model.bin, PyTorch .pt of fatchord / Coqui "
                                   "TTS / geneing, .npz or safetensors state_dict) to a sparsewave .sw file. The "
                                   "file is checked by loading it in the engine before it is written (atomically).",
                       epilog="example: sparsewave convert model.bin -o geneing.sw")
    c.add_argument("src", metavar="SRC", help="checkpoint file")
    c.add_argument("-o", "--output", required=True, metavar="OUT.sw", help="weight file to write")
    c.add_argument("--from", dest="source", default="auto", choices=("auto",) + tuple(SOURCES),
                   help="checkpoint kind (default: detect from the content)")
    c.add_argument("--sample-rate", type=positive_int, metavar="N",
                   help="output sample rate in Hz (default: from the checkpoint's config or the variant's hparams)")
    mu = c.add_mutually_exclusive_group()
    mu.add_argument("--mu-law", dest="mu_law", action="store_true", default=None,
                    help="softmax head: decode the output with mu-law")
    mu.add_argument("--no-mu-law", dest="mu_law", action="store_false", help="softmax head: linear output")
    c.add_argument("--config", metavar="JSON_FILE",
                   help="JSON object of config overrides, e.g. {\"sample_rate\": 22050, \"mel\": {\"fmin\": 40}}, "
                        "or the trainer's own config (Coqui config.json, fatchord / geneing hparams as JSON)")
    c.add_argument("--weights", choices=("float32", "int8"), default="float32",
                   help="int8: store the matrices the sample loop multiplies as int8 with one float32 scale per "
                        "row (about 4x smaller; loads as int8, quantized exactly as load(weights='int8') would)")
    c.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    c.set_defaults(func=run)


def _overrides(args) -> dict:
    """Config overrides from --config, --sample-rate and --mu-law / --no-mu-law."""
    overrides: dict = {}
    if args.config:
        cfg_path = check_input_file(args.config, "config file", regular=False)
        try:
            loaded = json.loads(cfg_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise CliError(f"config file '{cfg_path}' is not valid JSON: {one_line(e)}") from None
        if not isinstance(loaded, dict):
            raise CliError(f"config file '{cfg_path}' must hold a JSON object of config overrides, "
                           f"not a {type(loaded).__name__}")
        from ..converters.trainer_configs import trainer_config_hints

        if trainer_config_hints(loaded) is not None:
            overrides["trainer_config"] = loaded  # Coqui config.json / fatchord or geneing hparams
        else:
            overrides.update(loaded)
    if args.sample_rate is not None:
        overrides["sample_rate"] = args.sample_rate
    if args.mu_law is not None:
        overrides["mu_law"] = args.mu_law
    return overrides


def run(args) -> int:
    from ..converters import convert
    from ..vocoder import Vocoder

    src = check_input_file(args.src, "checkpoint")
    out = check_output_file(args.output)
    if out.exists() and out.resolve() == src.resolve():
        raise UsageError("the output would overwrite the checkpoint itself; choose another -o path")
    overrides = _overrides(args)
    with atomic_write(out) as tmp:
        report = convert(src, tmp, source=args.source, overrides=overrides or None, weights=args.weights)
        # Check that the engine accepts the file before it replaces anything.
        try:
            voc = Vocoder.load(tmp)
        except (ValueError, RuntimeError, OSError) as e:
            msg = one_line(e).replace(f"'{tmp}': ", "").replace(str(tmp), str(out))
            raise CliError(f"the engine refused the converted model: {msg}") from e
    report.output = out
    if not args.quiet:
        from .. import isa
        from .loading import loop_weights

        nz, ex = voc.loop_macs
        print(report.summary())
        print(f"  engine: loads OK; sample loop {nz:,} nonzero MACs/sample ({ex:,} executed), "
              f"{loop_weights(voc)} weights, ISA {isa()}")
    return EXIT_OK
