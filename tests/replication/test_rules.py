"""A rule's filters: repository globs, the tag filter (glob or /regex/), the name rewrite."""
from __future__ import annotations

import pytest

from replication.rules import RuleInvalid, destination_name, parse_globs, repository_matches, tag_matcher


@pytest.mark.parametrize(("name", "globs", "matches"), [
    ("team/app", ["team/**"], True),
    ("team/a/b/c", ["team/**"], True),
    ("teams/app", ["team/**"], False),
    ("team/app", ["team/*"], True),
    ("team/a/b", ["team/*"], False),
    ("team/app", ["team/ap?"], True),
    ("team/app", ["other/*", "team/app"], True),
    ("x/team/app", ["team/**"], False),
    ("a/deep/app", ["**/app"], True),
])
def test_repository_globs_follow_path_rules(name, globs, matches):
    assert repository_matches(name, globs) is matches


def test_globs_are_one_a_line_or_comma_separated_and_checked():
    assert parse_globs("team/**\n  other/app , third/*\n\n") == ["team/**", "other/app", "third/*"]
    with pytest.raises(RuleInvalid):
        parse_globs("  \n")
    with pytest.raises(RuleInvalid):
        parse_globs("Team/App")


def test_tag_filter_is_a_glob_or_a_whole_match_regex():
    assert tag_matcher("")("anything")
    glob = tag_matcher("v1.*")
    assert glob("v1.2") and not glob("v2.0")
    regex = tag_matcher(r"/v[0-9]+\.[0-9]+/")
    assert regex("v1.20") and not regex("v1.2-rc1") and not regex("xv1.2")


def test_a_broken_regex_is_refused_with_its_reason():
    with pytest.raises(RuleInvalid, match="tag regex"):
        tag_matcher("/v[0-9/")


def test_destination_prefix_rewrites_the_namespace_and_must_make_a_valid_name():
    assert destination_name("team/app", "mirror") == "mirror/team/app"
    assert destination_name("team/app", "/dr/site-b/") == "dr/site-b/team/app"
    assert destination_name("team/app", "") == "team/app"
    with pytest.raises(RuleInvalid):
        destination_name("team/app", "Not Valid")
