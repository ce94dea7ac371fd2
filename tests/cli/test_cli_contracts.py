"""CLI contracts that need no body model: --help of every command, --debug anywhere,
registration once per process, batch's exit code."""

from __future__ import annotations

import pytest
import typer

from avatarforge.cli import main as main_mod
from avatarforge.cli.main import main
from avatarforge.errors import UserInputError


def _command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and sub-command of the tree, walked from click's own structure (typer
    ships its own copy of click, so groups are recognised by their interface)."""
    paths = [path]
    if hasattr(command, "list_commands"):
        ctx = command.context_class(command)
        for name in command.list_commands(ctx):
            paths += _command_paths(command.get_command(ctx, name), (*path, name))
    return paths


def _tree():
    main(["--help"])  # registers the commands
    return typer.main.get_command(main_mod.app)


def test_every_registered_command_has_working_help(capsys):
    paths = _command_paths(_tree())
    names = {p[0] for p in paths if p}
    assert {"create", "batch", "face", "texture", "body", "params", "neural", "portrait"} <= names
    assert any(len(p) == 2 for p in paths)  # the sub-command groups are walked too
    for path in paths:
        code = main([*path, "--help"])
        out = capsys.readouterr().out
        assert code == 0, path
        assert "Usage:" in out and "--help" in out, path


def test_commands_are_registered_once_however_often_main_runs(capsys):
    main(["--help"])
    before = [c.name or c.callback.__name__ for c in main_mod.app.registered_commands]
    main(["--help"])
    main(["--version"])
    capsys.readouterr()
    after = [c.name or c.callback.__name__ for c in main_mod.app.registered_commands]
    assert after == before
    assert len(after) == len(set(after))


def test_debug_works_before_and_after_the_subcommand(capsys, tmp_path):
    args = ["texture", str(tmp_path / "missing"), "-o", str(tmp_path / "out")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: no params file at {tmp_path / 'missing'}"
    for argv in (["--debug", *args], [*args, "--debug"], [args[0], "--debug", *args[1:]]):
        with pytest.raises(UserInputError, match="no params file"):  # --debug: the traceback, not one line
            main(argv)
    # After "--", "--debug" is an argument, not the option.
    assert main(["texture", "-o", str(tmp_path / "out"), "--", "--debug"]) == 2
    assert "--debug" in capsys.readouterr().err


def _fake_runner(workers):
    def run(jobs, on_done):
        for photo, out, _options, _force in jobs:
            ok = photo.endswith("good.jpg")
            on_done({"photo": photo, "out": out, "status": "done" if ok else "failed",
                     "error": None if ok else "no face found", "seconds": 0.0, "warnings": []})
    return run


@pytest.mark.parametrize(("names", "code"), [(["good.jpg"], 0), (["good.jpg", "bad.jpg"], 1)])
def test_batch_exit_code_says_whether_any_photo_failed(capsys, monkeypatch, tmp_path, names, code):
    import avatarforge.pipeline.batch as batch_mod

    monkeypatch.setattr(batch_mod, "_local_runner", _fake_runner)
    src = tmp_path / "in"
    src.mkdir()
    for n in names:
        (src / n).write_bytes(b"not read: the runner is replaced")
    assert main(["batch", str(src), "-o", str(tmp_path / "out")]) == code
    cap = capsys.readouterr()
    if code:
        assert "1 failed" in cap.out and "exit code 1" in cap.out
        assert "failed: bad.jpg: no face found" in cap.err
    else:
        assert "0 failed" in cap.out and "exit code" not in cap.out


def test_batch_help_documents_the_exit_code(capsys):
    assert main(["batch", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.replace("│", " ").split()).lower()  # rich wraps in boxes
    assert "exit code 1 when any photo failed" in text
