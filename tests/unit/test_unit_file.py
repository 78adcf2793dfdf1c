"""Unit files of native services: hardened, quoted as systemd reads them, and telling a
file edited by hand from one as written."""

from __future__ import annotations

import pytest

from homei.core.errors import ValidationError
from homei.services.instance import Applied
from homei.services.spec import parse_spec
from homei.units import unit_file


def _spec(**fields):
    return parse_spec(
        {
            "name": "web",
            "runtime": "systemd",
            "artifact": {"name": "pb", "version": "0.29.0"},
            "args": ["serve", "--http", "127.0.0.1:8090", "100%", "$HOME"],
            "port": 8090,
            **fields,
        }
    )


def test_rendered_unit_is_hardened_and_quoted():
    spec = _spec(memory_limit="64m", cpu_limit=1.5, environment={"MODE": 'a "b"'})
    text = unit_file.render(spec, "/opt/pb", Applied(image=spec.image))
    lines = text.splitlines()
    for line in unit_file.HARDENING:
        assert line in lines
    assert "StateDirectory=homei/web" in lines
    assert "MemoryMax=67108864" in lines and "CPUQuota=150%" in lines
    assert 'ExecStart="/opt/pb" "serve" "--http" "127.0.0.1:8090" "100%%" "$$HOME"' in lines
    assert 'Environment="MODE=a \\"b\\""' in lines
    assert 'Environment="PORT=8090"' in lines


def test_parse_reads_back_what_it_was_made_with_and_sees_edits():
    spec = _spec()
    applied = Applied(image=spec.image, labels={"io.homei.service": "web"})
    text = unit_file.render(spec, "/opt/pb", applied)
    found = unit_file.parse(text)
    assert found is not None and found.intact and found.applied == applied
    edited = unit_file.parse(text.replace("ProtectHome=yes", "ProtectHome=no"))
    assert edited is not None and not edited.intact
    assert unit_file.parse("[Unit]\nDescription=not Homei's\n") is None


def test_unit_names():
    assert unit_file.unit_name("web") == "homei-svc-web.service"
    assert unit_file.instance_of("homei-svc-web--next.service") == "web--next"
    assert unit_file.instance_of("ssh.service") is None


def test_native_spec_rules():
    assert _spec().image == "systemd:artifact/pb/0.29.0"
    exec_spec = parse_spec({"name": "x", "runtime": "systemd", "exec": "/opt/bin/x"})
    assert exec_spec.image == "systemd:exec/opt/bin/x"
    with pytest.raises(ValidationError):
        parse_spec({"name": "x", "runtime": "systemd"})  # no program
    with pytest.raises(ValidationError):
        _spec(ports=["8080:8080"])  # Docker's field
    with pytest.raises(ValidationError):
        parse_spec({"name": "x", "image": "busybox", "args": ["-v"]})  # native field on Docker


def test_docker_spec_hash_is_unchanged_by_native_fields():
    docker = parse_spec({"name": "x", "image": "busybox"})
    with_domain = parse_spec({"name": "x", "image": "busybox", "domain": "x.local"})
    assert docker.runtime_hash() == with_domain.runtime_hash()
