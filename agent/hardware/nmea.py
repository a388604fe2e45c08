"""NMEA 0183 for GPS receivers: sentences, checksums, and the position they carry, as object 6 wants it.

Pure code (no I/O): :func:`parse_sentence` checks framing and checksum, :func:`parse_gga`,
:func:`parse_rmc` and :func:`parse_gst` read the three sentences that carry a position fix, its
date and speed, and its error estimate, and :class:`NmeaTracker` merges them into the Location
object's values: latitude, longitude, altitude, radius (uncertainty), velocity (3GPP TS 23.032
encoding), timestamp and speed. Any talker is accepted (GP, GN, GL, GA, BD...).

Every malformed input raises :class:`NmeaError` (a ``ValueError``); nothing else escapes, whatever
bytes a broken receiver sends. Builders (:func:`build_sentence`, :func:`format_latitude`,
:func:`format_longitude`) make valid sentences, for tests and for a simulated GPS.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

KNOTS_TO_MPS = 1852.0 / 3600.0
# Without a GST sentence, the uncertainty is estimated as HDOP times a typical user equivalent
# range error for a consumer receiver.
HDOP_UERE_METRES = 5.0


class NmeaError(ValueError):
    """A line that is not a valid NMEA sentence, or a sentence with fields that make no sense."""


@dataclass(frozen=True, slots=True)
class NmeaSentence:
    talker: str
    kind: str
    fields: tuple[str, ...]


def checksum(body: str) -> int:
    """XOR of the characters between ``$`` and ``*``."""
    value = 0
    for char in body:
        value ^= ord(char)
    return value & 0xFF


def parse_sentence(line: str, *, require_checksum: bool = True) -> NmeaSentence:
    """Split and verify one sentence such as ``$GPGGA,...*47``."""
    line = line.strip()
    if not line.startswith(("$", "!")):
        raise NmeaError(f"not an NMEA sentence (no $): {line[:40]!r}")
    body, star, given = line[1:].partition("*")
    if star:
        if len(given) != 2:
            raise NmeaError(f"checksum must be two hex digits: {line[:40]!r}")
        try:
            expected = int(given, 16)
        except ValueError:
            raise NmeaError(f"checksum is not hex: {line[:40]!r}") from None
        if checksum(body) != expected:
            raise NmeaError(f"bad checksum {given} (computed {checksum(body):02X}): {line[:40]!r}")
    elif require_checksum:
        raise NmeaError(f"no checksum: {line[:40]!r}")
    if not body.isascii() or not body.isprintable():
        raise NmeaError(f"sentence has non-printable characters: {line[:40]!r}")
    address, *fields = body.split(",")
    if len(address) < 3 or not address.isalnum():
        raise NmeaError(f"bad sentence address {address[:10]!r}")
    if address.startswith("P"):  # proprietary: P + manufacturer
        return NmeaSentence("P", address[1:], tuple(fields))
    return NmeaSentence(address[:2], address[2:], tuple(fields))


def _digits(text: str) -> bool:
    """ASCII digits only (str.isdigit also accepts superscripts and other scripts' digits)."""
    return text.isascii() and text.isdigit()


def _field(sentence: NmeaSentence, index: int) -> str:
    return sentence.fields[index] if index < len(sentence.fields) else ""


def _float(text: str, what: str) -> float | None:
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise NmeaError(f"{what} is not a number: {text[:20]!r}") from None
    if not math.isfinite(value):
        raise NmeaError(f"{what} is not a finite number: {text[:20]!r}")
    return value


def parse_coordinate(value: str, hemisphere: str, *, latitude: bool) -> float | None:
    """``ddmm.mmmm``/``dddmm.mmmm`` plus N/S/E/W to signed decimal degrees (None when empty)."""
    if value == "" and hemisphere == "":
        return None
    what = "latitude" if latitude else "longitude"
    allowed = "NS" if latitude else "EW"
    if hemisphere not in tuple(allowed):
        raise NmeaError(f"{what} hemisphere {hemisphere!r} is not {allowed[0]} or {allowed[1]}")
    whole, _, fraction = value.partition(".")
    if len(whole) < 3 or not _digits(whole) or (fraction and not _digits(fraction)):
        raise NmeaError(f"{what} {value[:20]!r} is not in (d)ddmm.mmmm form")
    degrees = int(whole[:-2])
    minutes = float(f"{whole[-2:]}.{fraction or '0'}")
    if minutes >= 60 or degrees > (90 if latitude else 180):
        raise NmeaError(f"{what} {value[:20]!r} is out of range")
    result = degrees + minutes / 60.0
    if result > (90 if latitude else 180):
        raise NmeaError(f"{what} {value[:20]!r} is out of range")
    return -result if hemisphere in ("S", "W") else result


def parse_time_of_day(text: str) -> datetime.time | None:
    if text == "":
        return None
    whole, _, fraction = text.partition(".")
    if len(whole) != 6 or not _digits(whole) or (fraction and not _digits(fraction)):
        raise NmeaError(f"time {text[:20]!r} is not hhmmss.ss")
    hours, minutes, seconds = int(whole[:2]), int(whole[2:4]), int(whole[4:])
    micro = round(float(f"0.{fraction}") * 1_000_000) if fraction else 0
    if hours > 23 or minutes > 59 or seconds > 60:
        raise NmeaError(f"time {text[:20]!r} is out of range")
    return datetime.time(hours, minutes, min(seconds, 59), min(micro, 999_999))


def parse_date(text: str) -> datetime.date | None:
    if text == "":
        return None
    if len(text) != 6 or not _digits(text):
        raise NmeaError(f"date {text[:20]!r} is not ddmmyy")
    day, month, year = int(text[:2]), int(text[2:4]), int(text[4:])
    try:
        # Two-digit years: receivers of this century; 80-99 are GPS's first epoch.
        return datetime.date(1900 + year if year >= 80 else 2000 + year, month, day)
    except ValueError:
        raise NmeaError(f"date {text!r} does not exist") from None


@dataclass(frozen=True, slots=True)
class GgaFix:
    time: datetime.time | None
    latitude: float | None
    longitude: float | None
    quality: int
    satellites: int | None
    hdop: float | None
    altitude: float | None


@dataclass(frozen=True, slots=True)
class RmcFix:
    time: datetime.time | None
    valid: bool
    latitude: float | None
    longitude: float | None
    speed_knots: float | None
    course: float | None
    date: datetime.date | None


@dataclass(frozen=True, slots=True)
class GstError:
    latitude_sigma: float | None
    longitude_sigma: float | None
    altitude_sigma: float | None


def parse_gga(sentence: NmeaSentence) -> GgaFix:
    """GGA: time, position, fix quality (0 = no fix), satellites, HDOP, altitude above mean sea level."""
    quality_text = _field(sentence, 5)
    if quality_text and not _digits(quality_text):
        raise NmeaError(f"GGA fix quality {quality_text[:10]!r} is not a digit")
    satellites = _field(sentence, 6)
    return GgaFix(
        time=parse_time_of_day(_field(sentence, 0)),
        latitude=parse_coordinate(_field(sentence, 1), _field(sentence, 2), latitude=True),
        longitude=parse_coordinate(_field(sentence, 3), _field(sentence, 4), latitude=False),
        quality=int(quality_text) if quality_text else 0,
        satellites=int(satellites) if _digits(satellites) else None,
        hdop=_float(_field(sentence, 7), "HDOP"),
        altitude=_float(_field(sentence, 8), "altitude"),
    )


def parse_rmc(sentence: NmeaSentence) -> RmcFix:
    """RMC: time, status (A valid / V void), position, speed over ground (knots), course, date."""
    status = _field(sentence, 1)
    if status not in ("A", "V", ""):
        raise NmeaError(f"RMC status {status[:10]!r} is not A or V")
    return RmcFix(
        time=parse_time_of_day(_field(sentence, 0)),
        valid=status == "A",
        latitude=parse_coordinate(_field(sentence, 2), _field(sentence, 3), latitude=True),
        longitude=parse_coordinate(_field(sentence, 4), _field(sentence, 5), latitude=False),
        speed_knots=_float(_field(sentence, 6), "speed"),
        course=_float(_field(sentence, 7), "course"),
        date=parse_date(_field(sentence, 8)),
    )


def parse_gst(sentence: NmeaSentence) -> GstError:
    """GST: standard deviations (m) of the latitude, longitude and altitude errors."""
    return GstError(
        latitude_sigma=_float(_field(sentence, 5), "latitude error"),
        longitude_sigma=_float(_field(sentence, 6), "longitude error"),
        altitude_sigma=_float(_field(sentence, 7), "altitude error"),
    )


def encode_horizontal_velocity(bearing_degrees: float, speed_mps: float) -> bytes:
    """3GPP TS 23.032 "Horizontal Velocity" (the encoding LwM2M's 6/x/4 Velocity uses).

    Octet 1: velocity type 0 in the high four bits, the bearing's ninth bit in the lowest;
    octet 2: the bearing's low eight bits (degrees clockwise from north, 0-359);
    octets 3-4: horizontal speed in km/h (0-65535), big-endian.
    """
    bearing = round(bearing_degrees) % 360
    speed = min(max(round(speed_mps * 3.6), 0), 0xFFFF)
    return bytes([(bearing >> 8) & 0x01, bearing & 0xFF, speed >> 8, speed & 0xFF])


class NmeaTracker:
    """The latest position from a stream of sentences (pure: the caller passes lines and the time).

    ``feed`` returns True when the sentence was used. Before the first valid fix, and while the
    receiver says it has none (GGA quality 0, RMC status V), ``has_fix`` is False.
    """

    def __init__(self) -> None:
        self.has_fix = False
        self.latitude: float | None = None
        self.longitude: float | None = None
        self.altitude: float | None = None
        self.hdop: float | None = None
        self.speed_mps: float | None = None
        self.course: float | None = None
        self.timestamp: int | None = None
        self.gst_radius: float | None = None
        self._date: datetime.date | None = None

    @property
    def radius(self) -> float | None:
        if self.gst_radius is not None:
            return self.gst_radius
        return self.hdop * HDOP_UERE_METRES if self.hdop is not None else None

    @property
    def velocity(self) -> bytes | None:
        if self.speed_mps is None:
            return None
        return encode_horizontal_velocity(self.course or 0.0, self.speed_mps)

    def feed(self, line: str, now: float, *, require_checksum: bool = True) -> bool:
        """Use one line; raise NmeaError when it is malformed. ``now`` is unix time (for GGA-only dates)."""
        sentence = parse_sentence(line, require_checksum=require_checksum)
        if sentence.kind == "GGA":
            gga = parse_gga(sentence)
            if gga.quality == 0 or gga.latitude is None or gga.longitude is None:
                self.has_fix = False
                return True
            self.has_fix = True
            self.latitude, self.longitude = gga.latitude, gga.longitude
            self.altitude = gga.altitude
            self.hdop = gga.hdop
            if gga.time is not None:
                self.timestamp = self._stamp(gga.time, self._date, now)
            return True
        if sentence.kind == "RMC":
            rmc = parse_rmc(sentence)
            if rmc.date is not None:
                self._date = rmc.date
            if not rmc.valid or rmc.latitude is None or rmc.longitude is None:
                self.has_fix = False
                return True
            self.has_fix = True
            self.latitude, self.longitude = rmc.latitude, rmc.longitude
            if rmc.speed_knots is not None:
                self.speed_mps = rmc.speed_knots * KNOTS_TO_MPS
            self.course = rmc.course
            if rmc.time is not None:
                self.timestamp = self._stamp(rmc.time, rmc.date, now)
            return True
        if sentence.kind == "GST":
            gst = parse_gst(sentence)
            if gst.latitude_sigma is not None and gst.longitude_sigma is not None:
                self.gst_radius = math.hypot(gst.latitude_sigma, gst.longitude_sigma)
            return True
        return False

    @staticmethod
    def _stamp(time_of_day: datetime.time, date: datetime.date | None, now: float) -> int:
        today = datetime.datetime.fromtimestamp(now, datetime.UTC)
        if date is None:
            # GGA carries no date: take today's (UTC), or yesterday's for a fix from just before midnight.
            stamp = datetime.datetime.combine(today.date(), time_of_day, datetime.UTC)
            if stamp - today > datetime.timedelta(hours=12):
                stamp -= datetime.timedelta(days=1)
        else:
            stamp = datetime.datetime.combine(date, time_of_day, datetime.UTC)
        return int(stamp.timestamp())


# ---- builders (tests, simulated receivers) ------------------------------------------------------

def build_sentence(address: str, fields: list[str]) -> str:
    """``$<address>,<fields>*HH`` with the right checksum."""
    body = ",".join([address, *fields])
    return f"${body}*{checksum(body):02X}"


def _format_coordinate(value: float, degree_digits: int, positive: str, negative: str) -> tuple[str, str]:
    hemisphere = positive if value >= 0 else negative
    minutes_total = round(abs(value) * 60.0, 6)
    degrees = int(minutes_total // 60)
    minutes = minutes_total - degrees * 60
    return f"{degrees:0{degree_digits}d}{minutes:09.6f}", hemisphere


def format_latitude(value: float) -> tuple[str, str]:
    """Decimal degrees to (``ddmm.mmmmmm``, N/S)."""
    return _format_coordinate(value, 2, "N", "S")


def format_longitude(value: float) -> tuple[str, str]:
    """Decimal degrees to (``dddmm.mmmmmm``, E/W)."""
    return _format_coordinate(value, 3, "E", "W")
