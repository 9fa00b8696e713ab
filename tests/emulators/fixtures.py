"""pytest fixtures starting the emulators in-process on ephemeral ports. Import the ones a test module needs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.emulators.common import Control, EmulatorServer
from tests.emulators.jira import JiraApp
from tests.emulators.slack import SlackApp


@dataclass
class Running:
    server: EmulatorServer
    control: Control

    @property
    def url(self) -> str:
        return self.server.url


def start(app: object) -> Running:
    server = EmulatorServer(app).start()  # type: ignore[arg-type]
    return Running(server, Control(server.url))


@pytest.fixture
def jira_emulator() -> Iterator[Running]:
    running = start(JiraApp(deployment="server"))
    yield running
    running.server.stop()


@pytest.fixture
def jira_cloud_emulator() -> Iterator[Running]:
    running = start(JiraApp(deployment="cloud"))
    yield running
    running.server.stop()


@pytest.fixture
def slack_emulator() -> Iterator[Running]:
    running = start(SlackApp())
    yield running
    running.server.stop()
