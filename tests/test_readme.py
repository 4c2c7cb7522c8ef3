"""The text users read: the README's commands work as written, links between the README and docs/ resolve, the
files the pages name exist, and the option files' headers stay short.

Each command of the README's ```bash blocks is one of:
- run: a tools/*.py command whose inputs all come from the demo (options/demo*, datasets/demo/, experiments/demo_*)
  runs for real, with tiny settings appended (TINY: one training iteration; sweeps --dry-run), in a folder
  holding what `make demo` leaves behind;
- help: a tools/*.py command that needs downloaded weights or data has its options checked against the tool's
  --help (and its repository files, and for train.py its option file with the --set overrides, checked too);
- torchrun: torchrun's own options against torchrun's --help, then the training command as under help;
- make: the target and the variables given exist in the Makefile.
"""
import contextlib
import io
import re
import runpy
import shlex
import shutil
from pathlib import Path

import cv2
import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PYTHON = ".venv/bin/python"

# What a demo command may read (made by the workdir fixture, as `make demo` would) and write.
DEMO_INPUTS = ("options/demo", "options/sweeps/demo_", "datasets/demo/", "experiments/demo_")
OUTPUTS = ("results/", "preview/")
FILE_SUFFIX = re.compile(r"\.(pth|safetensors|ya?ml|png|jpe?g|json|csv|onnx)$")
# Appended to a command that runs for real: the least work that still trains, validates and saves.
TINY_SETTINGS = ["train.total_iter=1", "val.val_freq=1", "logger.save_checkpoint_freq=1", "logger.print_freq=1",
                 "datasets.train.batch_size_per_gpu=2"]
TINY = {"train.py": [a for s in TINY_SETTINGS for a in ("--set", s)] + ["--no-progress"],
        # one training per variant is minutes even when tiny: these check every variant and train none
        "sweep.py": ["--dry-run"], "study.py": ["--dry-run"]}
HELD_OUT_CROP = 96  # the demo's held-out photos are cropped to this (HR pixels): validation and scoring stay quick


def bash_commands(text):
    """Each command of the ```bash blocks as an argv list (continuation lines joined, comments dropped)."""
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if argv:
                commands.append(argv)
    return commands


def looks_like_path(token):
    return not token.startswith("-") and ("/" in token or FILE_SUFFIX.search(token) is not None)


def classify(argv):
    """'run', 'help', 'torchrun', 'make', or None for a command this test does not know how to check."""
    if argv[0] == "make" and len(argv) >= 2:
        return "make"
    if argv[0] == "torchrun":
        return "torchrun"
    if argv[0] == PYTHON and len(argv) >= 2 and re.fullmatch(r"tools/\w+\.py", argv[1]):
        paths = [t for t in argv[2:] if looks_like_path(t)]
        return "run" if all(p.startswith(DEMO_INPUTS + OUTPUTS) for p in paths) else "help"
    return None


COMMANDS = bash_commands(README.read_text())


def tool_main(script):
    """The ``main`` of tools/<script> (the file itself is loaded, so a broken wrapper fails here)."""
    return runpy.run_path(str(REPO / "tools" / script))["main"]


def help_options(main):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    return set(re.findall(r"(?<![\w-])--?[A-Za-z][\w-]*", out.getvalue()))


def option_names(argv):
    return [t.split("=")[0] for t in argv if re.match(r"--?[A-Za-z]", t)]


def values_of(argv, flag):
    return [argv[i + 1] for i, t in enumerate(argv[:-1]) if t == flag]


def check_against_help(argv):
    """argv = [tools/X.py, args...]: every option is in X's --help; every repository file named exists."""
    script = argv[0]
    known = help_options(tool_main(Path(script).name))
    unknown = [o for o in option_names(argv[1:]) if o not in known]
    assert unknown == [], f"{script}: not in its --help: {unknown}"
    for token in argv:
        if token.startswith(("options/", "tools/", "docs/")):
            assert (REPO / token).exists(), f"{token} does not exist"
    if script == "tools/train.py":
        from srgan_kit.config.options import load_options

        opt_file = (values_of(argv, "-opt") or values_of(argv, "--opt"))[0]
        load_options(REPO / opt_file, overrides=values_of(argv, "--set"), check_paths=False)


def test_readme_is_short_and_every_command_is_checked():
    assert len(README.read_text().splitlines()) <= 200
    kinds = [(classify(argv), argv) for argv in COMMANDS]
    assert [shlex.join(argv) for kind, argv in kinds if kind is None] == []
    ran = {argv[1] for kind, argv in kinds if kind == "run"}
    # The README keeps a runnable example of training, upscaling and scoring.
    assert {"tools/train.py", "tools/infer.py", "tools/evaluate.py"} <= ran


@pytest.fixture(scope="module")
def demo_workdir(tmp_path_factory):
    """A folder holding what `make demo` leaves (the demo photos, a PSNR run and a GAN run from it, both tiny),
    with options/ and tools/ of this checkout; the commands run with it as the working directory."""
    from srgan_kit.config.options import load_options
    from srgan_kit.data.demo import build_demo_dataset
    from srgan_kit.training.trainer import train

    work = tmp_path_factory.mktemp("readme")
    for name in ("options", "tools"):
        (work / name).symlink_to(REPO / name)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        paths = build_demo_dataset("datasets/demo", scale=4)
        for folder, size in ((paths["val_hr"], HELD_OUT_CROP), (paths["val_lr"], HELD_OUT_CROP // 4)):
            for file in Path(folder).iterdir():
                cv2.imwrite(str(file), cv2.imread(str(file), cv2.IMREAD_UNCHANGED)[:size, :size])
        train(load_options("options/demo.yml", overrides=TINY_SETTINGS), progress=False)
        # The GAN run `make demo` leaves: a generator of the same network (its training is a README command).
        shutil.copytree(work / "experiments/demo_msrresnet_x4_psnr", work / "experiments/demo_msrresnet_x4_gan")
        yield work


def _run(argv, work, capsys):
    script = Path(argv[1]).name
    args = argv[2:] + TINY.get(script, [])
    if "--auto_resume" in args:  # one iteration more than the run it continues (the fixture's or the README's)
        args += ["--set", "train.total_iter=2"]
    rc = tool_main(script)(args)
    out, err = capsys.readouterr()
    assert rc == 0, f"{shlex.join(argv)} exited {rc}:\n{out[-3000:]}\n{err[-3000:]}"
    for flag in ("-o", "--output", "--compare-dir"):
        for folder in values_of(args, flag):
            assert any((work / folder).iterdir()), f"{shlex.join(argv)} wrote nothing to {folder}"
    if script == "train.py":
        from srgan_kit.config.options import load_options

        name = load_options(args[args.index("-opt") + 1], overrides=values_of(args, "--set"))["name"]
        assert (work / "experiments" / name / "models" / "net_g_latest.pth").is_file()
        assert re.search(r"^End of training at iteration \d+", out, flags=re.M), out[-3000:]
        if "--auto_resume" in args:
            assert "Resumed from" in out and "iterations 2..2" in out, out[-3000:]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv)[:90])
def test_readme_command(argv, request, capsys):
    kind = classify(argv)
    if kind == "run":
        work = request.getfixturevalue("demo_workdir")
        _run(argv, work, capsys)
    elif kind == "help":
        check_against_help(argv[1:])
    elif kind == "torchrun":
        from torch.distributed.run import get_args_parser

        script_at = next(i for i, t in enumerate(argv) if t.endswith(".py"))
        known = set(re.findall(r"(?<![\w-])--?[A-Za-z][\w-]*", get_args_parser().format_help()))
        unknown = [o for o in option_names(argv[1:script_at]) if o not in known]
        assert unknown == [], f"torchrun does not take {unknown}"
        check_against_help(argv[script_at:])
    elif kind == "make":
        makefile = (REPO / "Makefile").read_text()
        targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.M))
        for token in argv[1:]:
            if "=" in token:
                variable = token.split("=")[0]
                assert re.search(rf"^{variable}\s*\??=", makefile, flags=re.M), f"Makefile has no {variable}"
            else:
                assert token in targets, f"Makefile has no target {token}"
    else:
        pytest.fail(f"no check for {shlex.join(argv)}: give it a kind in classify()")


def _slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page):
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}


PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_links_and_named_files_exist(page):
    text = page.read_text()
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"\w+://", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(target)
    # Files of this repository named in the text (`options/x.yml`, `tools/y.py`, globs included).
    for name in re.findall(r"`((?:options|tools|benchmarks|srgan_kit|docs|tests)/[\w./*-]*)", text):
        if not list(REPO.glob(name.rstrip("/"))):
            broken.append(name)
    assert broken == []


@pytest.mark.parametrize("path", sorted((REPO / "options").glob("*.yml")), ids=lambda p: p.name)
def test_option_file_header_says_what_and_how_in_five_lines(path):
    lines = path.read_text().splitlines()
    if lines[0].startswith("# yaml-language-server:"):  # the editor's schema line is not part of the header
        lines = lines[1:]
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert 1 <= len(header) <= 5
    assert f"tools/train.py -opt options/{path.name}" in "\n".join(header)


def test_module_table_names_only_modules_that_exist():
    """docs/development.md's layout table: each row's folder holds the files its description names."""
    missing = []
    for row in re.findall(r"^\| `(srgan_kit/[^|]*)\| (.*) \|$", (REPO / "docs/development.md").read_text(), flags=re.M):
        names, job = row
        first = re.match(r"([\w/.]+)`", names).group(1)
        folder = REPO / (first if first.endswith("/") else Path(first).parent)
        for name in re.findall(r"`([\w/.]+)`", names + job):
            if name.endswith((".py", "/")) and not (folder / name).exists() and not (REPO / name).exists():
                missing.append(name)
    assert missing == []
