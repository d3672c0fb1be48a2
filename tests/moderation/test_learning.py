import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from comments.models import Comment, Thread
from ml.retrain import LabelledSet
from moderation import learning, scoring, services
from moderation.models import ModelVersion, ModerationAction, ModerationDecision

NEW_SLUR = "glorbnak"


@pytest.fixture(autouse=True)
def writable_model_dir(settings, tmp_path):
    settings.MODERATO_MODEL_DIR = tmp_path / "models"
    scoring.clear_cache()
    yield
    scoring.clear_cache()


@pytest.fixture
def labelled(site):
    """Sixty moderator labels: a local slur the shipped model does not know is toxic, and clean news talk."""
    thread = Thread.objects.create(site=site, key="/a")
    alice = User.objects.create_superuser("alice")
    texts = []
    for i in range(20):  # interleaved in time, so the held-out window has both kinds
        texts.append((f"you are a {NEW_SLUR}, comment {i}", ModerationAction.TOXIC))
        texts.append((f"you are right about comment {i}, thank you", ModerationAction.NOT_TOXIC))
        texts.append((f"you are a star, comment {i} made my day", ModerationAction.NOT_TOXIC))
    for n, (text, action) in enumerate(texts):
        comment = Comment.objects.create(
            thread=thread,
            author_name=f"r{n}",
            body=text,
            status="held",
            decided_at=thread.created_at,
            scores={"TOXICITY": 0.5, "SPAM": 0.0},
        )
        services.comment_moderate(comment_id=comment.pk, actor=alice, action=action)
    return texts


def test_it_collects_the_latest_label_per_comment_oldest_first(labelled):
    rows = learning.training_rows(name="toxicity")
    assert len(rows) == 60 and rows[0].at <= rows[-1].at
    assert learning.training_rows(name="spam") == []  # toxicity labels teach nothing about spam


def test_it_refuses_to_retrain_on_too_few_labels(site):
    with pytest.raises(ValidationError, match="at least 50"):
        learning.candidate_build(name="toxicity")


def test_a_better_candidate_passes_the_gates_and_is_promoted_then_rolled_back(labelled):
    shipped = scoring.get_scorer().score(f"you {NEW_SLUR}")["TOXICITY"]
    row = learning.candidate_build(name="toxicity", min_labels=20)
    assert row.status == "candidate", row.gates
    assert row.labels == 48 and row.based_on.startswith("toxicity-")
    assert row.replay["comments"] == 60
    learning.model_promote(model_version_id=row.pk)
    assert scoring.get_scorer().versions["toxicity"] == row.version
    assert scoring.get_scorer().score(f"you {NEW_SLUR}")["TOXICITY"] > shipped
    assert learning.model_rollback(name="toxicity") is None  # back to the shipped model
    assert scoring.get_scorer().versions["toxicity"] != row.version
    assert ModelVersion.objects.get(pk=row.pk).status == "retired"


def test_a_worse_candidate_is_refused_and_cannot_be_promoted(labelled):
    for decision in ModerationDecision.objects.all():  # moderators who got it backwards
        decision.labels = {"TOXICITY": 1 - decision.labels["TOXICITY"]}
        decision.save()
    truth = LabelledSet(
        "hand-checked",
        ["you are a worthless idiot", "shut up you moron", "the bridge opens on monday", "thanks for the report"],
        [1, 1, 0, 0],
    )
    row = learning.candidate_build(name="toxicity", min_labels=20, extra_sets=(truth,))
    assert row.status == "refused"
    assert not all(check["passed"] for check in row.gates["checks"])
    with pytest.raises(ValidationError):
        learning.model_promote(model_version_id=row.pk)


def test_the_command_prints_the_gates_and_promotes_only_on_request(labelled, capsys):
    call_command("retrain", "--model", "toxicity", "--min-labels", "20")
    out = capsys.readouterr().out
    assert "ROC AUC" in out and "candidate" in out
    assert not ModelVersion.objects.filter(status="active").exists()
    with pytest.raises(CommandError, match="No site"):
        call_command("retrain", "--model", "toxicity", "--site", "nope")


def test_it_promotes_and_rolls_back_from_the_admin(client, labelled):
    row = learning.candidate_build(name="toxicity", min_labels=20)
    client.force_login(User.objects.get(username="alice"))
    url = "/admin/moderation/modelversion/"
    assert "gates passed" in client.get(url).content.decode().lower()
    client.post(url, {"action": "promote", "_selected_action": [row.pk]})
    assert ModelVersion.objects.get(pk=row.pk).status == "active"
    page = client.get(f"{url}{row.pk}/change/").content.decode()
    assert "would be decided differently" in page
    assert f"weights.npz ({row.files.get(name='weights.npz').size} bytes" in page
    client.post(url, {"action": "roll_back", "_selected_action": [row.pk]})
    assert ModelVersion.objects.get(pk=row.pk).status == "retired"


def test_it_learns_from_public_training_rows_too_and_records_them(labelled):
    public = LabelledSet("tiny-public", [f"what a {NEW_SLUR} move, number {i}" for i in range(5)], [1] * 5)
    row = learning.candidate_build(name="toxicity", min_labels=20, public_rows=(public,))
    meta = bytes(row.files.get(name="meta.json").content).decode()
    assert '"tiny-public": 5' in meta


def test_the_command_says_in_one_line_when_the_data_folder_is_wrong(labelled, tmp_path):
    with pytest.raises(CommandError) as error:
        call_command("retrain", "--model", "toxicity", "--min-labels", "20", "--data", str(tmp_path / "missing"))
    assert "\n" not in str(error.value) and "does not exist" in str(error.value)


def test_rolling_back_twice_goes_back_past_both_promotions_to_the_shipped_model(labelled):
    first = learning.candidate_build(name="toxicity", min_labels=20)
    learning.model_promote(model_version_id=first.pk)
    ModerationDecision.objects.update(created_at=first.created_at)  # nothing new, but build again
    second = learning.candidate_build(name="toxicity", min_labels=20)
    learning.model_promote(model_version_id=second.pk)
    assert learning.model_rollback(name="toxicity").pk == first.pk
    assert learning.model_rollback(name="toxicity") is None
    assert not ModelVersion.objects.filter(status="active").exists()
    with pytest.raises(ValidationError, match="nothing to roll back"):
        learning.model_rollback(name="toxicity")


def test_a_held_out_window_of_one_class_refuses_the_candidate(site):
    thread = Thread.objects.create(site=site, key="/b")
    alice = User.objects.create_superuser("alice")
    for n in range(30):
        comment = Comment.objects.create(
            thread=thread,
            author_name="r",
            body=f"buy cheap pills number {n}",
            status="held",
            decided_at=thread.created_at,
        )
        services.comment_moderate(comment_id=comment.pk, actor=alice, action=ModerationAction.SPAM)
    row = learning.candidate_build(name="spam", min_labels=20)
    assert row.status == "refused"
    assert any(check.get("note") == "not measurable" for check in row.gates["checks"])


def test_it_refuses_to_promote_a_model_learned_from_one_site(labelled):
    with pytest.raises(CommandError, match="--promote with --site"):
        call_command("retrain", "--model", "toxicity", "--site", "planet", "--promote")


def test_api_labels_count_at_most_a_capped_share_per_key_and_never_in_the_weekly_loop(labelled, site, settings):
    """One site's API key cannot steer the model every site shares: its labels are capped, and the
    automatic loop (which promotes on its own) learns from moderators' labels only."""
    from moderation.compat import services as compat
    from moderation.compat.models import TrainingLabel

    settings.MODERATO_LABELS_PER_API_KEY = 25
    key, _ = compat.api_key_create(site=site, name="a client")
    for n in range(300):
        compat.training_label_create(
            site=site,
            text=f"Make money fast {n} http://bit.ly/x",
            labels={"SPAM": 0},
            source=TrainingLabel.Source.AKISMET,
            api_key=key,
        )
    assert len(learning.training_rows(name="spam")) == 25  # the key's latest 25 of 300
    assert learning.training_rows(name="spam", api_labels=False) == []
    outcome = learning.models_retrain(promote=True)
    assert outcome["spam"].startswith("0 labels for spam")  # the 300 API labels built nothing
    assert not ModelVersion.objects.filter(name="spam").exists()


def test_the_extra_heads_the_policy_holds_on_learn_from_the_civil_labels_and_have_gates(labelled):
    civil = "you are a star, comment 99 made my day"
    shipped = scoring.get_scorer().score(civil)
    row = learning.candidate_build(name="toxicity", min_labels=20)
    failed = [check for check in row.gates["checks"] if not check["passed"]]
    assert row.status == "candidate", failed
    gates = [check["gate"] for check in row.gates["checks"]]
    for head in ("INSULT", "PROFANITY", "THREAT", "IDENTITY_ATTACK", "SEVERE_TOXICITY"):
        assert any(gate.startswith(f"{head}, false-positive slice") for gate in gates), head
    meta = bytes(row.files.get(name="meta.json").content).decode()
    assert '"INSULT": 32' in meta  # the 32 civil labels of the 48 trained on
    learning.model_promote(model_version_id=row.pk)
    promoted = scoring.get_scorer().score(civil)
    assert promoted["INSULT"] < shipped["INSULT"] and promoted["PROFANITY"] < shipped["PROFANITY"]
    assert promoted["SEXUALLY_EXPLICIT"] == shipped["SEXUALLY_EXPLICIT"]  # no default threshold: left as shipped
