"""`sluice --help` lists every command with a one-line description."""

from click.testing import CliRunner

from controller.cli.main import COMMANDS, _name, cli


def test_help_lists_every_command_with_a_description() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for ref in COMMANDS:
        command = cli.get_command(None, _name(ref))  # type: ignore[arg-type]
        assert command is not None and command.name == _name(ref), ref
        name = command.name
        line = next((ln for ln in result.output.splitlines() if ln.strip().startswith(name + " ")), None)
        assert line is not None, f"{name} missing from --help"
        assert len(line.split()) > 1, f"{name} has no description"
