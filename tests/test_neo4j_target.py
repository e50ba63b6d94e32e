from neo4j_target import choose_target


def never_called() -> bool:
    raise AssertionError("Docker must not be probed when NEO4J_URI is set")


def test_env_uri_wins_without_probing_docker() -> None:
    target = choose_target({"NEO4J_URI": "bolt://127.0.0.1:7999"}, never_called)
    assert target.source == "env"
    assert "7999" in target.reason


def test_docker_chosen_when_engine_answers() -> None:
    target = choose_target({}, lambda: True)
    assert target.source == "docker"


def test_local_when_no_uri_and_no_docker() -> None:
    target = choose_target({}, lambda: False)
    assert target.source == "local"


def test_empty_uri_counts_as_unset() -> None:
    target = choose_target({"NEO4J_URI": ""}, lambda: False)
    assert target.source == "local"


def test_docker_probe_can_be_disabled() -> None:
    target = choose_target({"DELEGRAPH_TEST_NO_DOCKER": "1"}, never_called)
    assert target.source == "local"
