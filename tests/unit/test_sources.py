"""Unit tests for reelrank.models.sources: each source's quirks mapped onto CanonicalVideo (FORMATS.md §0–§4, §7)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reelrank.errors import SnapshotFormatError
from reelrank.models.canonical import CanonicalVideo, RejectedRecord, SourceName
from reelrank.models.sources import (
    SOURCES,
    ApifyItem,
    BrightDataRecord,
    ResearchApiVideo,
    YouTubeVideoItem,
    detect_source,
    guess_source,
    unwrap_container,
    validate_record,
)

SNAPSHOTS = Path(__file__).resolve().parents[1] / "fixtures" / "snapshots"

_MISSING = object()


def load_snapshot(name: str) -> Any:
    """The parsed JSON of one example snapshot in tests/fixtures/snapshots/."""
    return json.loads((SNAPSHOTS / name).read_text(encoding="utf-8"))


def brightdata_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = load_snapshot("brightdata_tiktok.json")
    return records


def apify_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = load_snapshot("apify_tiktok.json")
    return items


def youtube_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = load_snapshot("youtube_videos_list.json")["items"]
    return items


def research_videos() -> list[dict[str, Any]]:
    videos: list[dict[str, Any]] = load_snapshot("tiktok_research_api.json")["data"]["videos"]
    return videos


def variant(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``record`` with top-level keys replaced, or removed when the value is ``_MISSING``."""
    changed = copy.deepcopy(record)
    for key, value in changes.items():
        if value is _MISSING:
            changed.pop(key, None)
        else:
            changed[key] = value
    return changed


def accept(source: SourceName, raw: object) -> CanonicalVideo:
    record = validate_record(source, 0, raw)
    assert isinstance(record, CanonicalVideo), record
    return record


def reject(source: SourceName, raw: object, index: int = 0) -> RejectedRecord:
    record = validate_record(source, index, raw)
    assert isinstance(record, RejectedRecord), record
    return record


# --- Bright Data ----------------------------------------------------------------------------------------------------


def test_brightdata_post_maps_every_field() -> None:
    # Given the first Bright Data post of the example snapshot
    raw = brightdata_records()[0]
    # When it is validated
    video = accept("brightdata", raw)
    # Then every canonical field comes from the documented source field
    assert video.platform == "tiktok"
    assert video.source == "brightdata"
    assert video.video_id == "7481203345566778890"
    assert video.url == "https://www.tiktok.com/@nightdrive.edits/video/7481203345566778890"
    assert video.caption is not None
    assert video.caption.startswith("when the beat drops")
    assert video.thumbnail_url == raw["preview_image"]
    assert video.duration_seconds == 14
    assert video.posted_at == datetime(2025, 3, 14, 21, 7, 44, tzinfo=UTC)
    assert video.observed_at == datetime(2025, 9, 2, 4, 11, 9, 512000, tzinfo=UTC)
    assert (video.views, video.likes, video.comments, video.shares, video.saves) == (
        2_311_874_906,
        41_203_377,
        233_190,
        1_288_004,
        2_904_518,
    )
    assert video.raw == raw


def test_brightdata_creator_key_is_account_id_and_profile_username_is_display_name() -> None:
    # Given a post whose profile_username is the display name
    raw = brightdata_records()[0]
    # When it is validated
    creator = accept("brightdata", raw).creator
    # Then the handle keys the creator and the display name is only shown
    assert creator is not None
    assert creator.creator_id == "nightdrive.edits"
    assert creator.username == "nightdrive.edits"
    assert creator.display_name == "Night Drive Edits"
    assert creator.platform_user_id == "6978123456701234567"
    assert creator.followers_count == 6_120_448
    assert creator.verified is False
    assert creator.bio == "cars x music • new edit every night"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"account_id": _MISSING}, "nightdrive.edits"),
        ({"account_id": None, "profile_url": "https://www.tiktok.com/@NightDrive.Edits?lang=en"}, "nightdrive.edits"),
        ({"account_id": "", "profile_url": None}, "nightdrive.edits"),
        ({"account_id": "@NightDrive.Edits"}, "nightdrive.edits"),
    ],
)
def test_brightdata_handle_falls_back_to_profile_url_then_url(changes: dict[str, Any], expected: str) -> None:
    # Given a post without a usable account_id
    raw = variant(brightdata_records()[0], **changes)
    # When it is validated
    creator = accept("brightdata", raw).creator
    # Then the handle is read from profile_url, else from the post url, lower-cased
    assert creator is not None
    assert creator.creator_id == expected


def test_brightdata_without_any_handle_has_no_creator() -> None:
    # Given a post with no account_id, profile_url or url
    raw = variant(brightdata_records()[0], account_id=_MISSING, profile_url=_MISSING, url=_MISSING)
    # When it is validated
    video = accept("brightdata", raw)
    # Then the video is kept without a creator (and without a url, which needs the handle)
    assert video.creator is None
    assert video.url is None


def test_brightdata_num_share_count_wins_over_share_count() -> None:
    # Given both share spellings, disagreeing
    raw = variant(brightdata_records()[0], num_share_count=10, share_count="99")
    # When it is validated
    # Then the numeric twin is used
    assert accept("brightdata", raw).shares == 10


def test_brightdata_share_count_string_falls_back() -> None:
    # Given no num_share_count, only the string share_count
    raw = variant(brightdata_records()[2], num_share_count=_MISSING, share_count="312")
    # When it is validated
    # Then the string is parsed as the share count
    assert accept("brightdata", raw).shares == 312


def test_brightdata_counts_as_strings_and_missing_collect_count() -> None:
    # Given the second post: counts as strings, collect_count absent, followers null
    raw = brightdata_records()[1]
    # When it is validated
    video = accept("brightdata", raw)
    # Then strings are counts and absent values are None (not 0)
    assert (video.views, video.likes, video.comments, video.shares, video.saves) == (3_875_120, 98_412, 1_204, 0, None)
    assert video.creator is not None
    assert video.creator.followers_count is None
    assert video.creator.display_name == "Märchen Cuts ✨"


@pytest.mark.parametrize("missing", [None, "", "undefined", "null"])
def test_brightdata_missing_markers_are_none(missing: str | None) -> None:
    # Given a count written as one of the integrators' "no value" spellings
    raw = variant(brightdata_records()[0], digg_count=missing)
    # When it is validated
    # Then likes are unknown
    assert accept("brightdata", raw).likes is None


def test_brightdata_negative_play_count_is_rejected_naming_the_field() -> None:
    # Given a post whose play_count is negative text
    raw = variant(brightdata_records()[0], play_count="-5")
    # When it is validated
    rejected = reject("brightdata", raw, index=7)
    # Then the rejection names the field and the value, and keeps the video id and raw record
    assert rejected.reason == "play_count: must be a non-negative integer, got '-5'"
    assert rejected.index == 7
    assert rejected.video_id == "7481203345566778890"
    assert rejected.raw == raw


def test_brightdata_several_bad_fields_are_all_named() -> None:
    # Given a post with a boolean count and a bad nested music id
    raw = variant(brightdata_records()[0], comment_count=True, music={"id": 1.5})
    # When it is validated
    reason = reject("brightdata", raw).reason
    # Then both fields appear in the reason
    assert "comment_count: must be a non-negative integer, got a boolean (True)" in reason
    assert "music.id: must be a string or integer id" in reason


def test_brightdata_error_row_is_rejected_naming_error_code() -> None:
    # Given the example's error row (no post_id, error_code dead_page)
    raw = brightdata_records()[3]
    # When it is validated
    rejected = reject("brightdata", raw, index=3)
    # Then it is rejected with the error code first in the reason
    assert rejected.reason == "dead_page: There are no public posts in the profile."
    assert rejected.video_id is None
    assert rejected.index == 3


def test_brightdata_post_without_id_is_rejected() -> None:
    # Given a post without post_id or shortcode and no error fields
    raw = variant(brightdata_records()[0], post_id=_MISSING, shortcode=_MISSING)
    # When it is validated
    # Then it is rejected for the missing id
    assert reject("brightdata", raw).reason == "post_id: missing video id"


def test_brightdata_shortcode_stands_in_for_post_id() -> None:
    # Given a post that only has shortcode
    raw = variant(brightdata_records()[0], post_id=_MISSING)
    # When it is validated
    # Then shortcode is the video id
    assert accept("brightdata", raw).video_id == "7481203345566778890"


def test_brightdata_music_object_is_the_sound() -> None:
    # Given a post with a music object
    raw = brightdata_records()[0]
    # When it is validated
    sound = accept("brightdata", raw).sound
    # Then the lower-case music keys map onto the sound
    assert sound is not None
    assert sound.sound_id == "7479911223344556677"
    assert sound.title == "Midnight Circuit (Sped Up)"
    assert sound.author == "Vela Rhodes"
    assert sound.original is False
    assert sound.play_url is not None
    assert sound.play_url.endswith(".mp3")


@pytest.mark.parametrize("music", [None, {"id": "0", "title": "x"}, {"id": "", "title": "x"}, {"title": "x"}])
def test_brightdata_music_without_id_means_no_sound(music: dict[str, Any] | None) -> None:
    # Given music null, or a music object whose id is "0" / "" / absent, and an original_sound title
    raw = variant(brightdata_records()[0], music=music, original_sound="Midnight Circuit")
    # When it is validated
    # Then there is no sound: a title alone never makes a key
    assert accept("brightdata", raw).sound is None


def test_brightdata_hashtags_list_with_hash_signs_is_deduped() -> None:
    # Given the first post's hashtags with '#', case duplicates and a Japanese tag
    raw = brightdata_records()[0]
    # When it is validated
    hashtags = accept("brightdata", raw).hashtags
    # Then each tag appears once, keyed normalised, shown as first written
    assert [(tag.tag, tag.display) for tag in hashtags] == [
        ("caredit", "CarEdit"),
        ("fyp", "fyp"),
        ("ネオン", "ネオン"),
    ]


def test_brightdata_null_hashtags_fall_back_to_the_caption() -> None:
    # Given the second post: hashtags null, tags only in the caption (with #Édit/#édit)
    raw = brightdata_records()[1]
    # When it is validated
    hashtags = accept("brightdata", raw).hashtags
    # Then the caption's tags are used, the untagged word "édit" is not one
    assert [(tag.tag, tag.display) for tag in hashtags] == [
        ("édit", "Édit"),
        ("animeedit", "AnimeEdit"),
        ("animeエディット", "animeエディット"),
    ]


def test_brightdata_cafe_and_cafe_accented_are_distinct() -> None:
    # Given the photo post tagged #café and #cafe, #Lisboa and #lisboa
    raw = brightdata_records()[2]
    # When it is validated
    tags = [tag.tag for tag in accept("brightdata", raw).hashtags]
    # Then accents are kept apart and case is merged
    assert tags == ["lisboa", "travel", "café", "cafe"]


def test_brightdata_tagged_users_are_mentions() -> None:
    # Given a post tagging one user (twice, in different case)
    tagged = [{"user_handle": "vela.rhodes"}, {"user_handle": "@Vela.Rhodes"}, {"user_handle": None}]
    raw = variant(brightdata_records()[0], tagged_user=tagged)
    # When it is validated
    # Then the handles are mentions, normalised and de-duplicated
    assert accept("brightdata", raw).mentions == ("vela.rhodes",)


def test_brightdata_photo_post_keeps_its_url_and_zero_duration() -> None:
    # Given the carousel post (a /photo/ url, video_duration 0)
    raw = brightdata_records()[2]
    # When it is validated
    video = accept("brightdata", raw)
    # Then its url is kept as given and the duration is 0
    assert video.url == "https://www.tiktok.com/@tinyatlas/photo/7544455566677788899"
    assert video.duration_seconds == 0


def test_brightdata_ignores_unknown_fields() -> None:
    # Given a post with a field no model knows
    raw = variant(brightdata_records()[0], brand_new_field={"nested": [1, 2]})
    # When it is validated
    # Then it is accepted and the field survives in raw
    assert accept("brightdata", raw).raw["brand_new_field"] == {"nested": [1, 2]}


# --- Apify ----------------------------------------------------------------------------------------------------------


def test_apify_item_maps_every_field() -> None:
    # Given the first Apify item
    raw = apify_items()[0]
    # When it is validated
    video = accept("apify", raw)
    # Then camelCase fields map onto the canonical ones
    assert video.video_id == "7506612233445566778"
    assert video.url == "https://www.tiktok.com/@nightdrive.edits/video/7506612233445566778"
    assert video.posted_at == datetime(2025, 5, 19, 22, 24, 18, tzinfo=UTC)
    assert video.duration_seconds == 15
    assert video.thumbnail_url == raw["videoMeta"]["coverUrl"]
    assert (video.views, video.likes, video.comments, video.shares, video.saves) == (
        2_489_000_000,
        51_300_000,
        287_400,
        3_100_000,
        4_017_725,
    )
    assert video.creator is not None
    assert video.creator.creator_id == "nightdrive.edits"
    assert video.creator.display_name == "Night Drive Edits"
    assert video.creator.platform_user_id == "6978123456701234567"
    assert video.creator.followers_count == 6_100_000
    assert video.creator.verified is True
    assert video.sound is not None
    assert video.sound.sound_id == "7479911223344556677"
    assert [tag.tag for tag in video.hashtags] == ["phonk", "edit", "fyp", "música"]


def test_apify_slideshow_has_no_sound_and_no_saves() -> None:
    # Given the slideshow item: musicId "0", no collectCount, empty text, duration 0
    raw = apify_items()[1]
    # When it is validated
    video = accept("apify", raw)
    # Then there is no sound, saves are unknown and the empty caption is None
    assert video.sound is None
    assert video.saves is None
    assert video.caption is None
    assert video.duration_seconds == 0
    assert video.hashtags == ()


def test_apify_collect_count_falls_back_to_stats_v2_string() -> None:
    # Given an item without collectCount but with TikTok's string statsV2 twin
    raw = variant(apify_items()[1], statsV2={"collectCount": "512", "playCount": "1"})
    # When it is validated
    video = accept("apify", raw)
    # Then saves come from statsV2 and top-level counts still win
    assert video.saves == 512
    assert video.views == 348_100


def test_apify_hashtag_objects_merge_case_duplicates_keeping_first_display() -> None:
    # Given search-mode hashtag objects CarTok/cartok (same id) and edição
    raw = apify_items()[2]
    # When it is validated
    hashtags = accept("apify", raw).hashtags
    # Then one cartok tag is kept, shown as first written
    assert [(tag.tag, tag.display) for tag in hashtags] == [("cartok", "CarTok"), ("edição", "edição")]


def test_apify_hashtags_as_plain_strings_are_accepted() -> None:
    # Given a derivative actor's hashtags as plain strings
    raw = variant(apify_items()[0], hashtags=["Phonk", "#edit", "phonk"])
    # When it is validated
    # Then they are read like the object form
    assert [tag.tag for tag in accept("apify", raw).hashtags] == ["phonk", "edit"]


def test_apify_missing_hashtags_fall_back_to_the_caption() -> None:
    # Given an item without a hashtags field
    raw = variant(apify_items()[0], hashtags=_MISSING)
    # When it is validated
    # Then the caption's tags are used
    assert [tag.tag for tag in accept("apify", raw).hashtags] == ["phonk", "edit", "fyp", "música"]


def test_apify_bad_hashtag_entry_is_rejected_naming_the_field() -> None:
    # Given a hashtag entry that is a number
    raw = variant(apify_items()[0], hashtags=[{"name": "ok"}, 5])
    # When it is validated
    # Then the reason names the hashtags field and the entry
    assert reject("apify", raw).reason.startswith("hashtags: item 1 must be a hashtag string")


def test_apify_mentions_and_detailed_mentions_are_merged() -> None:
    # Given '@handle' mentions and detailedMentions naming the same and another user
    raw = variant(
        apify_items()[2],
        mentions=["@vela.rhodes"],
        detailedMentions=[{"id": "1", "name": "Vela.Rhodes"}, {"id": "2", "name": "tinyatlas"}],
    )
    # When it is validated
    # Then each handle appears once, lower-case, without '@'
    assert accept("apify", raw).mentions == ("vela.rhodes", "tinyatlas")


def test_apify_dotted_flattened_keys_are_a_second_spelling() -> None:
    # Given an item from a flattened export
    raw = {
        "id": "7506612233445566778",
        "text": "#Phonk",
        "createTime": "1747693458",
        "webVideoUrl": "https://www.tiktok.com/@nightdrive.edits/video/7506612233445566778",
        "authorMeta.name": "nightdrive.edits",
        "authorMeta.id": "6978123456701234567",
        "authorMeta.nickName": "Night Drive Edits",
        "musicMeta.musicId": "7479911223344556677",
        "musicMeta.musicName": "Midnight Circuit (Sped Up)",
        "videoMeta.duration": "15",
        "hashtags.0.name": "phonk",
        "hashtags.1.name": "edit",
        "playCount": "2489000000",
        "diggCount": "51300000",
    }
    # When it is validated
    video = accept("apify", raw)
    # Then the dotted keys are read as their nested twins and raw is left untouched
    assert video.creator is not None
    assert (video.creator.creator_id, video.creator.platform_user_id) == ("nightdrive.edits", "6978123456701234567")
    assert video.sound is not None
    assert video.sound.title == "Midnight Circuit (Sped Up)"
    assert video.duration_seconds == 15
    assert [tag.tag for tag in video.hashtags] == ["phonk", "edit"]
    assert video.views == 2_489_000_000
    assert "authorMeta" not in video.raw


def test_apify_nested_value_wins_over_its_dotted_twin() -> None:
    # Given both authorMeta.name and authorMeta{name}
    raw = variant(apify_items()[0], **{"authorMeta.name": "someone.else", "authorMeta.extra": "x"})
    # When it is validated
    creator = accept("apify", raw).creator
    # Then the nested value is used and the nested raw dict is not modified
    assert creator is not None
    assert creator.creator_id == "nightdrive.edits"
    assert "extra" not in raw["authorMeta"]


@pytest.mark.parametrize(("flag", "expected"), [("true", True), ("False", False), (None, None), ("maybe", None)])
def test_apify_music_original_is_read_loosely(flag: object, expected: bool | None) -> None:
    # Given musicOriginal spelled in one of the ways seen in the wild
    raw = copy.deepcopy(apify_items()[0])
    raw["musicMeta"]["musicOriginal"] = flag
    # When it is validated
    sound = accept("apify", raw).sound
    # Then known spellings are booleans and anything else is unknown, without rejecting the video
    assert sound is not None
    assert sound.original is expected


def test_apify_handle_falls_back_to_the_video_url() -> None:
    # Given an item without authorMeta
    raw = variant(apify_items()[2], authorMeta=_MISSING)
    # When it is validated
    creator = accept("apify", raw).creator
    # Then the handle comes from webVideoUrl
    assert creator is not None
    assert creator.creator_id == "corte.rapido"


# --- YouTube --------------------------------------------------------------------------------------------------------


def test_youtube_item_maps_every_field() -> None:
    # Given the first videos.list item (a Short)
    raw = youtube_items()[0]
    # When it is validated
    video = accept("youtube", raw)
    # Then string statistics are counts and the rest maps as documented
    assert video.platform == "youtube"
    assert video.video_id == "Qz7rVd2kLmA"
    assert video.url == "https://www.youtube.com/watch?v=Qz7rVd2kLmA"
    assert video.caption == "night drive edit 🌙 #shorts #CarEdit"
    assert video.duration_seconds == 34
    assert video.posted_at == datetime(2025, 6, 1, 14, 3, 22, tzinfo=UTC)
    assert (video.views, video.likes, video.comments) == (48_211_937, 2_210_455, 13_022)
    assert video.thumbnail_url == "https://i.ytimg.com/vi/Qz7rVd2kLmA/hqdefault.jpg"
    assert video.creator is not None
    assert video.creator.creator_id == "UCa1B2c3D4e5F6g7H8i9J0kL"
    assert video.creator.platform_user_id == "UCa1B2c3D4e5F6g7H8i9J0kL"
    assert video.creator.display_name == "Night Drive Edits"
    assert video.creator.username is None
    assert video.sound is None


def test_youtube_has_no_shares_or_saves_and_ignores_favorite_count() -> None:
    # Given an item whose favoriteCount is non-zero for once
    raw = copy.deepcopy(youtube_items()[0])
    raw["statistics"]["favoriteCount"] = "77"
    # When it is validated
    video = accept("youtube", raw)
    # Then shares and saves are unknown, never 0 and never favoriteCount
    assert video.shares is None
    assert video.saves is None


def test_youtube_hidden_likes_and_disabled_comments_are_none() -> None:
    # Given the item with no likeCount and the one with no commentCount
    hidden_likes, disabled_comments = youtube_items()[1], youtube_items()[2]
    # When they are validated
    # Then the absent statistic is None
    assert accept("youtube", hidden_likes).likes is None
    assert accept("youtube", disabled_comments).comments is None
    assert accept("youtube", disabled_comments).views == 3_018_446_712


def test_youtube_thumbnail_is_the_largest_available() -> None:
    # Given the item with maxres and standard thumbnails
    raw = youtube_items()[2]
    # When it is validated
    # Then maxres is chosen
    assert accept("youtube", raw).thumbnail_url == "https://i.ytimg.com/vi/xR9_mvPl0p4/maxresdefault.jpg"


def test_youtube_hashtags_come_from_title_and_description_not_tags() -> None:
    # Given an item with #tags in title and description and uploader keywords in tags
    raw = youtube_items()[0]
    # When it is validated
    hashtags = accept("youtube", raw).hashtags
    # Then only the #tags count, title first
    assert [(tag.tag, tag.display) for tag in hashtags] == [
        ("shorts", "shorts"),
        ("caredit", "CarEdit"),
        ("edit", "edit"),
    ]


def test_youtube_view_count_with_a_fraction_is_rejected_naming_the_nested_field() -> None:
    # Given a viewCount that is not an integer string
    raw = copy.deepcopy(youtube_items()[0])
    raw["statistics"]["viewCount"] = "12.5"
    # When it is validated
    # Then the reason names statistics.viewCount as YouTube spells it
    assert reject("youtube", raw).reason == "statistics.viewCount: must be a non-negative integer, got '12.5'"


def test_youtube_bad_duration_is_rejected_naming_the_field() -> None:
    # Given a duration that is not ISO-8601
    raw = copy.deepcopy(youtube_items()[0])
    raw["contentDetails"]["duration"] = "1:02"
    # When it is validated
    # Then the reason names contentDetails.duration
    assert reject("youtube", raw).reason.startswith("contentDetails.duration: must be an ISO-8601 duration")


def test_youtube_other_kinds_are_rejected() -> None:
    # Given a channel resource among the videos
    raw = variant(youtube_items()[0], kind="youtube#channel")
    # When it is validated
    # Then it is rejected naming the kind
    assert reject("youtube", raw).reason == "kind: expected 'youtube#video', got 'youtube#channel'"


def test_youtube_live_broadcast_duration_p0d_is_zero() -> None:
    # Given an upcoming broadcast (duration P0D) and an item with no statistics part
    raw = copy.deepcopy(youtube_items()[0])
    raw["contentDetails"]["duration"] = "P0D"
    del raw["statistics"]
    # When it is validated
    video = accept("youtube", raw)
    # Then the duration is 0 and every count is unknown
    assert video.duration_seconds == 0
    assert (video.views, video.likes, video.comments) == (None, None, None)


# --- TikTok Research API --------------------------------------------------------------------------------------------


def test_research_ids_stay_exact() -> None:
    # Given a Research API video whose id and music_id are JSON ints above 2**53
    raw = research_videos()[0]
    # When it is validated
    video = accept("tiktok_research", raw)
    # Then both ids are their exact decimal text
    assert video.video_id == "7487766554433221100"
    assert video.sound is not None
    assert video.sound.sound_id == "7479911223344556677"


def test_research_video_maps_every_field() -> None:
    # Given the first Research API video
    raw = research_videos()[0]
    # When it is validated
    video = accept("tiktok_research", raw)
    # Then the url is built from username and id, and counts map one to one
    assert video.url == "https://www.tiktok.com/@nightdrive.edits/video/7487766554433221100"
    assert video.posted_at == datetime(2025, 3, 31, tzinfo=UTC)
    assert video.duration_seconds == 14
    assert (video.views, video.likes, video.comments, video.shares, video.saves) == (
        2_207_500_031,
        38_712_004,
        201_877,
        990_412,
        2_500_118,
    )
    assert video.creator is not None
    assert (video.creator.creator_id, video.creator.display_name) == ("nightdrive.edits", None)
    assert [(tag.tag, tag.display) for tag in video.hashtags] == [
        ("caredit", "CarEdit"),
        ("fyp", "fyp"),
        ("ネオン", "ネオン"),
    ]


def test_research_favourites_count_spelling_is_accepted() -> None:
    # Given saves spelled favourites_count (the English spec's field list)
    raw = variant(research_videos()[1], favourites_count=1234)
    # When it is validated
    # Then they are the saves
    assert accept("tiktok_research", raw).saves == 1234


def test_research_absent_fields_are_none() -> None:
    # Given the third video (no music_id, no video_duration) and the second (no favorites_count, no hashtags)
    third, second = research_videos()[2], research_videos()[1]
    # When they are validated
    # Then the absent values are None and the empty hashtag list stays empty
    assert accept("tiktok_research", third).sound is None
    assert accept("tiktok_research", third).duration_seconds is None
    assert accept("tiktok_research", second).saves is None
    assert accept("tiktok_research", second).hashtags == ()


def test_research_video_id_spelling_of_the_docs_example_is_accepted() -> None:
    # Given a video whose id is under video_id, as in the docs' own example
    raw = variant(research_videos()[0], id=_MISSING, video_id=7487766554433221100)
    # When it is validated
    # Then it is the video id
    assert accept("tiktok_research", raw).video_id == "7487766554433221100"


def test_research_id_mangled_by_a_float_is_rejected() -> None:
    # Given an id that went through a float parser
    raw = variant(research_videos()[0], id=7.487766554433221e18)
    # When it is validated
    # Then the record is rejected rather than stored under the wrong id
    assert reject("tiktok_research", raw).reason.startswith("id: must be a string or integer id")


# --- dispatch -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (load_snapshot("brightdata_tiktok.json")[0], "brightdata"),
        (load_snapshot("brightdata_tiktok.json")[3], "brightdata"),
        (load_snapshot("apify_tiktok.json")[0], "apify"),
        ({"id": "1", "authorMeta.name": "x"}, "apify"),
        (load_snapshot("youtube_videos_list.json"), "youtube"),
        (load_snapshot("youtube_videos_list.json")["items"][0], "youtube"),
        ({"id": "abc", "statistics": {}}, "youtube"),
        (load_snapshot("tiktok_research_api.json"), "tiktok_research"),
        (load_snapshot("tiktok_research_api.json")["data"]["videos"][0], "tiktok_research"),
        ({"id": 7487766554433221100, "view_count": 1}, "tiktok_research"),
        ({"items": [1, {"post_id": "1"}]}, "brightdata"),
        ([None, {"playCount": 1}], "apify"),
    ],
)
def test_detect_source(sample: object, expected: str) -> None:
    # Given a container, a list of records or one record
    # When its source is detected
    # Then it is the expected source
    assert detect_source(sample) == expected


@pytest.mark.parametrize("sample", [{"hello": "world"}, [1, 2], {"items": []}, "text"])
def test_detect_source_raises_when_nothing_is_recognisable(sample: object) -> None:
    # Given something with no recognisable record
    # When its source is detected
    # Then a SnapshotFormatError says so
    with pytest.raises(SnapshotFormatError, match="cannot detect the source"):
        detect_source(sample)


def test_unwrap_container_leaves_records_alone() -> None:
    # Given a plain record and a YouTube response
    # When they are unwrapped
    # Then only the response is a container
    assert unwrap_container(brightdata_records()[0]) is None
    container = unwrap_container(load_snapshot("youtube_videos_list.json"))
    assert container is not None
    assert (len(container[0]), container[1]) == (3, "youtube")


def test_sources_maps_each_name_to_its_model() -> None:
    # Given the dispatch table
    # When it is read
    # Then each source has its model, which knows its own name
    assert {
        "brightdata": BrightDataRecord,
        "apify": ApifyItem,
        "youtube": YouTubeVideoItem,
        "tiktok_research": ResearchApiVideo,
    } == SOURCES
    assert all(model.source_name == name for name, model in SOURCES.items())


@pytest.mark.parametrize(
    ("raw", "kind"), [([1, 2], "list"), ("text", "string"), (None, "null"), (3, "number"), (True, "boolean")]
)
def test_validate_record_rejects_non_objects(raw: object, kind: str) -> None:
    # Given an entry that is not a JSON object
    # When it is validated
    rejected = reject("brightdata", raw, index=3)
    # Then the reason says what it was
    assert rejected.reason == f"record 3: expected a JSON object, got {kind}"
    assert rejected.raw == raw


def test_guess_source_returns_none_for_unknown_shapes() -> None:
    # Given an unrecognisable object and a non-object
    # When the source is guessed
    # Then there is no guess
    assert guess_source({"foo": 1}) is None
    assert guess_source([1]) is None


_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
_json = st.recursive(
    _json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
_field_names = st.sampled_from(
    [
        "post_id",
        "id",
        "video_id",
        "play_count",
        "playCount",
        "viewCount",
        "statistics",
        "snippet",
        "contentDetails",
        "music",
        "musicMeta",
        "authorMeta",
        "authorMeta.name",
        "hashtags",
        "hashtag_names",
        "tagged_user",
        "mentions",
        "detailedMentions",
        "create_time",
        "createTime",
        "error_code",
        "kind",
        "statsV2",
        "videoMeta",
        "hashtags.0.name",
        "username",
    ]
)


@settings(max_examples=300, deadline=None)
@given(source=st.sampled_from(list(SOURCES)), raw=st.dictionaries(_field_names, _json, max_size=8) | _json)
def test_validate_record_never_raises_for_bad_input(source: SourceName, raw: object) -> None:
    # Given arbitrary JSON under field names the models know
    # When it is validated
    record = validate_record(source, 0, raw)
    # Then the result is a video or a rejection with a reason, never an exception
    assert isinstance(record, CanonicalVideo | RejectedRecord)
    if isinstance(record, RejectedRecord):
        assert record.reason


# --- id shapes the database checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "make"),
    [
        ("apify", lambda: variant(apify_items()[0], id="not-a-video")),
        ("brightdata", lambda: variant(brightdata_records()[0], post_id="12345", shortcode=None)),
        ("youtube", lambda: variant(youtube_items()[0], id="short")),
        ("tiktok_research", lambda: variant(research_videos()[0], id="abc")),
    ],
)
def test_a_video_id_the_database_would_refuse_is_rejected_naming_it(source: SourceName, make: Any) -> None:
    # A malformed id must be a per-record rejection, not a write error that fails the record's whole chunk
    rejected = reject(source, make())
    assert "video id: a " in rejected.reason, rejected.reason


def test_a_youtube_channel_id_must_look_like_one() -> None:
    item = youtube_items()[0]
    item = variant(item, snippet={**item["snippet"], "channelId": "not-a-channel"})
    assert "channel id" in reject("youtube", item).reason
