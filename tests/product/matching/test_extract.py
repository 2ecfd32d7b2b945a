from product.matching.extract import (
    colours,
    gtins,
    identifiers,
    is_valid_gtin,
    normalize_text,
    numbers,
    profile,
    quantities,
    quantities_agree,
)


def test_normalize_text():
    assert normalize_text("Lysol&nbsp; Wipes  &amp; MORE") == "lysol wipes & more"


def test_identifiers_keep_codes_and_drop_quantities():
    text = normalize_text("Sony PS-LX350H turntable 500GB 1080p 2007 edition 121066 kdl40v5100")
    assert identifiers(text) == {"pslx350h", "121066", "kdl40v5100"}


def test_gtin_check_digit_and_padding():
    assert is_valid_gtin("4006381333931")
    assert not is_valid_gtin("4006381333932")
    assert gtins("ean 4006381333931 and upc 036000291452") == {"04006381333931", "00036000291452"}


def test_quantities_convert_units():
    found = quantities(normalize_text('1 TB drive, 55" screen, Pack of 6, 80 ct, 2.4 GHz, 1200W'))
    assert found["storage"] == {1000.0}
    assert found["length"] == {139.7}
    assert found["count"] == {6.0, 80.0}
    assert found["frequency"] == {2.4e9}
    assert found["power"] == {1200.0}
    assert quantities_agree({1000.0}, {1000.0 * 1.01})
    assert not quantities_agree({64.0}, {128.0})
    assert "length" not in quantities("2 in 1 charger")


def test_colours_english_and_czech():
    assert colours("matte gray / black case") == {"grey", "black"}
    assert colours("mobil černá 128gb") == {"black"}


def test_numbers():
    assert numbers("version 9,0 for 2007 x5") == {"9.0", "2007"}


def test_profile_reads_ids_and_brand_from_specifications():
    p = profile(
        "Lysol wipes 80 ct",
        "Lysol wipes 80 ct",
        "",
        "",
        {"Brand": "Lysol", "Manufacturer Part Number": "01920099716406"},
    )
    assert p.brand == "lysol"
    assert "01920099716406" in p.title_ids
    assert p.quantities["count"] == {80.0}
