/*
  EICAR anti-virus test file: a harmless 68-byte ASCII string that every
  scanner reports, used to test the detection path end to end.

  The EICAR standard says the string must start the file, optionally
  followed by white space, with the file no longer than 128 bytes. Checking
  both keeps a mail or advisory that quotes the string in its text from
  matching. The scanner unpacks ZIPs, so the rule also matches the string
  as a member of a ZIP attachment.

  test_file = true: a match gives the verdict, the X-Wormsign header and the
  configured action, so the reject path can be tested, but never a sighting.
  Anyone can send the test file, so its sender must not be listed.
*/

rule EICAR_Test_File
{
    meta:
        family = "EICAR-Test-File"
        variant = ""
        confidence = "high"
        description = "EICAR anti-virus test file as an attachment or ZIP member"
        reference = "eicar.org anti-malware test file"
        test_file = true

    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

    condition:
        $eicar at 0 and filesize <= 128
}
