"""An edited file replaces the article it gave before, instead of adding a second one.

An article without a url is identified by a hash of its body, so an edit changes its id. The
file it came from (its resolved path, or an upload's name: `Article.file_key`) ties the two
versions together; the earlier one is replaced only when it is the same story (same outlet, a
near-duplicate text), so a file reused for another story never deletes what it held before.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from index.loaders import load_paths
from index.models import Article
from index.service import IndexService
from qa.uploads import Upload, load_uploads

_WORDS = [f"{a}{b}{c}" for a in "bdfgklmnprstv" for b in "aeiou" for c in "nrl"]


def _story(seed: int, paragraphs: int = 12) -> list[str]:
    """Paragraphs of made-up words: no two seeds' texts look alike."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(_WORDS) for _ in range(40)).capitalize() + "."
        for _ in range(paragraphs)
    ]


def _write(path: Path, paragraphs: list[str], source: str = "Wire One") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = f"---\ntitle: A story\nsource: {source}\n---\n\n" + "\n\n".join(paragraphs) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def _edited(paragraphs: list[str]) -> list[str]:
    return [*paragraphs[:-1], "The last paragraph was corrected by the editor."]


@pytest.fixture
def service(settings, hash_embedding) -> IndexService:
    return IndexService(settings, embedding=hash_embedding)


def _bodies(service: IndexService) -> list[str]:
    return [record.body or "" for record in service.store.list_articles(with_body=True)]


def test_an_edited_file_replaces_its_earlier_version_and_re_embeds_only_what_changed(
    service, tmp_path
):
    story = _story(1)
    path = _write(tmp_path / "story.txt", story)
    first = service.ingest_paths([path])

    _write(path, _edited(story))
    edit = service.ingest_paths([path])

    assert (edit.added, edit.updated, edit.failed, edit.warnings) == (0, 1, 0, [])
    [body] = _bodies(service)
    assert "corrected by the editor" in body and story[-1] not in body
    [record] = service.store.list_articles()
    assert service.store.count_chunks() == record.n_chunks  # no chunk of the old version left
    assert first.chunks > 1 and 0 < edit.embedded < edit.chunks  # unchanged chunks reused
    assert service.ingest_paths([path]).unchanged == 1


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(lambda story: (_story(2), "Wire One"), id="another story"),
        pytest.param(lambda story: (_edited(story), "Daily Two"), id="another outlet's copy"),
    ],
)
def test_another_article_saved_under_the_same_file_is_kept_with_one_warning(
    service, tmp_path, second
):
    story = _story(1)
    path = _write(tmp_path / "story.txt", story)
    service.ingest_paths([path])
    [earlier] = service.store.list_articles()

    _write(path, *second(story))
    report = service.ingest_paths([path])

    assert (report.added, report.updated) == (1, 0)
    [warning] = report.warnings
    assert warning.path == "story.txt" and earlier.article_id in warning.reason
    assert len(service.store.list_articles()) == 2
    again = service.ingest_paths([path])
    assert (again.unchanged, again.warnings) == (1, [])  # said once: the earlier one is un-keyed


def test_a_crash_before_the_earlier_version_is_deleted_is_finished_by_the_rerun(
    service, tmp_path, monkeypatch
):
    story = _story(1)
    path = _write(tmp_path / "story.txt", story)
    service.ingest_paths([path])
    _write(path, _edited(story))

    def crash(article_id: str) -> bool:
        raise RuntimeError("killed")

    monkeypatch.setattr(service.store, "delete_article", crash)
    with pytest.raises(RuntimeError):
        service.ingest_paths([path])
    assert len(service.store.list_articles()) == 2  # both versions: nothing lost
    monkeypatch.undo()

    rerun = service.ingest_paths([path])

    assert (rerun.unchanged, rerun.embedded) == (1, 0)
    [body] = _bodies(service)
    assert "corrected by the editor" in body


def test_a_moved_or_renamed_file_keeps_its_article_and_an_edit_there_replaces_it(service, tmp_path):
    story = _story(1)
    old_place = _write(tmp_path / "inbox" / "story.txt", story)
    service.ingest_paths([old_place])
    new_place = tmp_path / "archive" / "story.txt"
    new_place.parent.mkdir()
    shutil.move(old_place, new_place)
    assert service.ingest_paths([new_place]).unchanged == 1
    renamed = new_place.with_name("harbour-story.txt")
    new_place.rename(renamed)
    assert service.ingest_paths([renamed]).unchanged == 1
    [record] = service.store.list_articles()
    assert record.origin == "harbour-story.txt"  # the catalog names the file it is in now
    new_place = renamed

    _write(new_place, _edited(story))
    report = service.ingest_paths([tmp_path / "archive"])

    assert (report.added, report.updated) == (0, 1)
    assert len(service.store.list_articles()) == 1


def test_only_an_article_alone_in_its_file_is_keyed_by_the_resolved_path(tmp_path, monkeypatch):
    _write(tmp_path / "one.md", _story(1))
    (tmp_path / "many.jsonl").write_text(
        '{"title": "A", "body": "First record."}\n{"title": "B", "body": "Second record."}\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)

    keys = {
        item.origin: item.file_key
        for item in load_paths([Path("one.md"), Path("many.jsonl")])
        if isinstance(item, Article)
    }

    # A record's place in a list is no identity: inserting one would shift the others.
    assert keys == {
        "one.md": str(tmp_path.resolve() / "one.md"),
        "many.jsonl:1": "",
        "many.jsonl:2": "",
    }


def test_an_edited_re_upload_replaces_the_earlier_upload_of_that_name(service):
    def upload(paragraphs: list[str]) -> Upload:
        text = "---\ntitle: A story\nsource: Wire One\n---\n\n" + "\n\n".join(paragraphs)
        return Upload("story.md", text.encode())

    story = _story(1)
    service.ingest_items(load_uploads([upload(story)]))
    report = service.ingest_items(load_uploads([upload(_edited(story))]))

    assert (report.added, report.updated) == (0, 1)
    [record] = service.store.list_articles()
    assert (record.origin, record.file_key) == ("upload:story.md", "upload:story.md")
