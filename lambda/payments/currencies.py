"""ISO 4217 alphabetic codes with their minor-unit exponent.

Why a literal table: the exponent decides how many fractional digits an amount may carry
("12.345" is valid KWD but invalid USD, "100.5" is invalid JPY), so it must be exact and must
not depend on a package that is not in the Lambda runtime.

Source: ISO 4217 List One (active codes, including fund codes), as amended up to 2025.
Codes whose minor unit is "N.A." (precious metals XAU/XAG/XPT/XPD, XDR, XSU, XUA, XBA-XBD,
XTS, XXX) are deliberately absent: they cannot express a payment amount. Withdrawn codes
(HRK, SLL, ZWL, VEF, MRO, STD, BYR, LTL, LVL, EEK, ...) are absent too, so an event in a
withdrawn currency is rejected rather than booked. Updating this table is a code change
(reviewed, new package hash); it does not change ``schemaVersion``.
"""

from __future__ import annotations

from typing import Final

_EXPONENT_0: Final = (
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
)
_EXPONENT_3: Final = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4: Final = "CLF UYW"
_EXPONENT_2: Final = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR "
    "FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW "
    "KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN "
    "NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD "
    "SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS "
    "VED VES WST XCD XCG YER ZAR ZMW ZWG"
)


def _table() -> dict[str, int]:
    table: dict[str, int] = {}
    for exponent, codes in ((0, _EXPONENT_0), (2, _EXPONENT_2), (3, _EXPONENT_3), (4, _EXPONENT_4)):
        for code in codes.split():
            if code in table:  # a code listed twice would silently pick one exponent
                raise ValueError(f"currency {code} listed twice")
            table[code] = exponent
    return table


#: ISO 4217 alphabetic code -> number of minor-unit digits (USD -> 2, JPY -> 0, KWD -> 3).
MINOR_UNIT_EXPONENT: Final[dict[str, int]] = _table()


def minor_unit_exponent(code: str) -> int | None:
    """Return the exponent for ``code`` or ``None`` when it is not an active ISO 4217 code."""
    return MINOR_UNIT_EXPONENT.get(code)
