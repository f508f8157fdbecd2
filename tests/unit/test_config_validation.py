"""Config values that `signage run` would trip over are refused by the model, so that
`signage check` reports them; valid forms still pass."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from signage.config import Config, MqttConfig, PathsConfig, TlsConfig, parse_broker_url


@pytest.mark.parametrize("url,expected", [
    ("mqtt://localhost:1883", ("localhost", 1883, False)),
    ("mqtts://broker.example.com", ("broker.example.com", 8883, True)),
    ("tcp://10.0.0.7:11883", ("10.0.0.7", 11883, False)),
    ("ssl://[fd00::1]:8883", ("fd00::1", 8883, True)),
    ("broker.local", ("broker.local", 1883, False)),
    ("mqtt://broker.local:1883/", ("broker.local", 1883, False)),
])
def test_broker_urls_that_work(url, expected):
    assert parse_broker_url(url) == expected
    assert MqttConfig(url=url).url == url


@pytest.mark.parametrize("url,message", [
    ("ftp://broker", "the scheme 'ftp://' is not a broker's"),
    ("http://broker:80", "the scheme 'http://' is not a broker's"),
    ("mqtt://broker:70000", "the port '70000' is not a number from 1 to 65535"),
    ("mqtt://broker:0", "the port '0' is not a number from 1 to 65535"),
    ("mqtt://broker:abc", "the port 'abc' is not a number from 1 to 65535"),
    ("not a url at all", "'not a url at all' is not a host name or IP address"),
    ("mqtt://", "'' is not a host name or IP address"),
    ("mqtt://broker/topic", "a broker address has no path"),
    ("mqtt://user:hunter2@broker", "put them in mqtt.username and mqtt.password"),
])
def test_broker_urls_that_would_crash_run(url, message):
    with pytest.raises(ValidationError) as caught:
        MqttConfig(url=url)
    text = str(caught.value.errors()[0]["ctx"]["error"])  # what the operator reads
    assert message in text and "use mqtt://host:port or mqtts://host:port" in text
    assert "hunter2" not in text, "a password in the URL is never repeated"


def test_tls_files_must_exist_and_be_files(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert TlsConfig(ca=str(ca)).ca == str(ca)
    for key in ("ca", "cert", "key"):
        with pytest.raises(ValidationError, match="does not exist; give the path of a PEM file"):
            TlsConfig(**{key: str(tmp_path / "missing.pem")})
        with pytest.raises(ValidationError, match="is not a file"):
            TlsConfig(**{key: str(tmp_path)})


def test_spool_and_state_paths(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ValidationError, match="is a folder; give a file name inside it"):
        PathsConfig(spool=str(tmp_path))
    with pytest.raises(ValidationError, match="is a file, so no folder can be made there"):
        PathsConfig(spool=str(tmp_path / "a-file" / "spool.sqlite3"))
    with pytest.raises(ValidationError, match="is a file; give a folder"):
        PathsConfig(state=str(tmp_path / "a-file"))
    paths = PathsConfig(spool=str(tmp_path / "new" / "spool.sqlite3"))
    assert paths.last_good_playlist == tmp_path / "new" / "last-good-playlist.json", "default: beside the spool"
    assert PathsConfig(state=str(tmp_path / "state")).last_good_playlist.parent == tmp_path / "state"


@pytest.mark.parametrize("size", [[0, -5], [15, 100], [100, 16385], ["wide", 100]])
def test_window_sizes_out_of_range(size):
    with pytest.raises(ValidationError):
        Config.model_validate({"display": {"size": size}})
    assert Config.model_validate({"display": {"size": [16, 16384]}}).display.size == (16, 16384)


@pytest.mark.parametrize("text", ["Wel\x00come", "\x1b[2J", "bell\x07", "c1\x9b"])
def test_on_screen_config_text_refuses_control_characters(text):
    with pytest.raises(ValidationError, match="a control character"):
        Config.model_validate({"display": {"fallback": {"text": text}}})
    with pytest.raises(ValidationError, match="a control character"):
        Config.model_validate({"display": {"notice": {"text": text}}})


def test_command_line_overrides_are_validated_like_the_file(tmp_path):
    from signage.cli.run import effective_config
    from signage.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        effective_config(tmp_path / "none.yaml", mqtt="mqtt://broker:99999", site="main lobby")
    assert str(caught.value).splitlines() == [
        "--site (site): 'main lobby' is not a name of 1 to 64 letters, digits, '-' and '_'",
        "--mqtt (mqtt.url): 'mqtt://broker:99999': the port '99999' is not a number from 1 to 65535;"
        " use mqtt://host:port or mqtts://host:port (e.g. mqtt://broker.local:1883)",
    ]


def test_every_pattern_an_operator_can_meet_has_words():
    """A pattern mismatch says what is allowed in words, never 'the expected form'."""
    import re

    from signage.playlist.fileformat import PlaylistFile
    from signage.patterns import PATTERN_HINTS

    for model in (Config, PlaylistFile):
        patterns = re.findall(r"'pattern': '([^']*)'", str(model.model_json_schema()))
        assert patterns, model
        for pattern in patterns:
            assert pattern.encode().decode("unicode_escape") in PATTERN_HINTS, (model.__name__, pattern)


@pytest.mark.parametrize("text,message", [
    ("display:\n  size: [1920]\n", "2:9: display.size: must be 2 whole numbers from 16 to 16384, e.g. [1920, 1080];"
                                   " got 1 value"),
    ("display:\n  size: 1920\n", "2:9: display.size: must be 2 whole numbers from 16 to 16384, e.g. [1920, 1080];"
                                 " got 1920"),
    ("display:\n  size: [1920, 1080, 3]\n", "display.size: must be 2 whole numbers from 16 to 16384,"
                                            " e.g. [1920, 1080]; got 3 values"),
    ("display:\n  size: [1920, 5]\n", "2:16: display.size[1]: must be from 16 to 16384, got 5"),
    ("mqtt:\n  interval: -3\n", "mqtt.interval: must be from 1 to 86400, got -3"),
    ("vision:\n  min_score: 1.5\n", "vision.min_score: must be > 0 and < 1, got 1.5"),
    ("mqtt:\n  tls: yes\n", "mqtt.tls: expected a mapping (key: value) of ca, cert, insecure, key; got True"),
    ("display: 5\n", "display: expected a mapping (key: value) of cache_mb, display, fallback, fps, fullscreen,"),
    ("privacy:\n  schedule: {start: '09:00'}\n", "privacy.schedule: expected a list of mappings (key: value) of"
                                                 " end, start; got a mapping"),
    ("mqtt:\n  commands:\n    public_key: not-a-key\n", "3:17: mqtt.commands.public_key: not base64; paste the "
                                                         "public_key line `signage fleet provision` printed"),
    ("mqtt:\n  commands:\n    public_key: AAAA\n", "mqtt.commands.public_key: 3 bytes; an Ed25519 public key is "
                                                    "32 bytes"),
    ("mqtt:\n  commands:\n    max_age: 5\n", "mqtt.commands.max_age: must be from 10 to 3600, got 5"),
    ("mqtt:\n  commands:\n    accept_unsigned: maybe\n", "mqtt.commands.accept_unsigned"),
    ("mqtt:\n  commands:\n    unsigned: accept\n", "unknown key 'unsigned'; did you mean 'accept_unsigned'? "
                                                    "(allowed: accept_unsigned, max_age, public_key)"),
])
def test_config_errors_say_what_is_allowed(text, message):
    """Shape, range and keys come from the model, for every field that has them: the
    operator reads what to write, not only that the value is wrong."""
    from signage.validation import validate
    from signage.yamlread import ProblemsError, parse

    with pytest.raises(ProblemsError) as caught:
        validate(Config, parse(text, "config.yaml"))
    assert len(caught.value.problems) == 1 and message in str(caught.value.problems[0])
