/*
  Sober mass-mailer family (Oct 2003 - May 2007): mail-side rules.

  The scanner runs every rule on every scan object: one "message" object
  (raw header block plus the decoded top-level text bodies), one object per
  decoded MIME part and one per ZIP member, nested ZIPs included. These
  external variables are defined by the host for each object:
    file_name, content_type, object_path, object_kind       (this object)
    subject, from_domain, attachment_names,                 (whole message)
    has_executable, has_zip
    helo, envelope_from, recipient_domains                  (SMTP session)
    recipient_language, helo_matches_sober_g                (computed from
                                                             the session)
  recipient_language is "de" when a recipient domain ends in .de, .at, .ch
  or .li or contains "gmx", "en" when recipients are known and none is
  German, and "" offline. helo_matches_sober_g is true when the HELO is the
  envelope sender's local part plus the sender domain's last label.
  The session values are empty (false) in an offline scan.

  Confidence policy: "high" and "medium" make the message infected and list
  the origin host, "low" is only reported. Lure text, subjects and the fake
  anti-virus footer can be quoted by advisories, so alone they are "low";
  they reach "medium" or "high" only together with an executable in the
  same message (has_executable). None of the lure texts in the public
  write-ups names the worm, while advisories and newsletters usually do, so
  the combined rules also require that the text object does not contain
  the word "sober".

  Rules that look at message-wide values only (subject, from_domain,
  has_executable) are limited to object_kind == "message", so that they
  match once per message and not once per object.

  TODO: Sober.B, Sober.E and the June 2004 Sober.G/H spam run have no
  rules of their own, because the public write-ups give no exact subject,
  body or attachment name for them. Hosts of that run are caught only by
  the Sober.G HELO rule.

  Variant letters follow F-Secure where F-Secure named the campaign. For
  campaigns without an F-Secure name, the variant is another vendor's
  letter and the description says whose. Other vendors' names are in the
  aliases meta.
*/

/* ----------------------------------------------------------------------
   Sober.Y (21-22 Nov 2005): FBI, CIA and BKA lures, ZIP with
   File-packed_dataInfo.exe.
   ---------------------------------------------------------------------- */

rule Sober_Y_Packed_Member
{
    meta:
        family = "Sober"
        variant = "Y"
        confidence = "high"
        description = "Executable named File-packed_dataInfo.exe (spaces before the extension allowed) inside a ZIP attachment"
        reference = "sophos.com press release 2005/11/soberz (every Sober-Z ZIP contains File-packed_dataInfo.exe)"
        aliases = "Symantec W32.Sober.X@mm; Sophos W32/Sober-Z; Trend WORM_SOBER.AG; Microsoft Win32/Sober.Z@mm"

    condition:
        object_kind == "archive_member"
        and file_name matches /(^|[\/\\])File-packed_dataInfo *\.exe *$/i
        and uint16(0) == 0x5A4D
}

rule Sober_Y_Zip_Directory_Entry
{
    meta:
        family = "Sober"
        variant = "Y"
        confidence = "high"
        description = "ZIP whose central directory lists File-packed_dataInfo.exe; catches ZIPs the scanner could not unpack"
        reference = "sophos.com press release 2005/11/soberz"
        aliases = "Symantec W32.Sober.X@mm; Sophos W32/Sober-Z; Trend WORM_SOBER.AG"

    strings:
        // A central directory entry (signature PK\x01\x02) stores the file
        // name 46 bytes after its start; text inside a stored member does
        // not. A folder prefix such as "docs/" may come before the name. One
        // pattern, not a loop over every occurrence of the name, keeps the
        // cost linear in the size of the object.
        $entry = /PK\x01\x02[\x00-\xff]{42}([^\x00]{0,64}[\/\\])?File-packed_dataInfo/i

    condition:
        uint32(0) == 0x04034B50 and $entry
}

rule Sober_Y_Authority_Lure_With_Executable
{
    meta:
        family = "Sober"
        variant = "Y"
        confidence = "high"
        description = "FBI, CIA or BKA lure body together with an executable in the message"
        reference = "wesawthat.blogspot.com/2005/11/new-email-virus-wormsoberag.html (Trend advisory); helpnetsecurity.com 2005/11/23; zdnet.de/39139416 (BKA text)"
        aliases = "Symantec W32.Sober.X@mm; Sophos W32/Sober-Z; Trend WORM_SOBER.AG"

    strings:
        $fbi = "Federal Bureau of Investigation -FBI-"
        $cia = "Central Intelligence Agency -CIA-"
        $room = "Room 3220"
        $signer = "Steven Allison"
        $logged = "on more than 30 illegal Websites" nocase
        $cia_office = "Office of Public Affairs"
        $bka = "Bundeskriminalamt"
        $bka_signer = "Juergen Stock"
        $bka_unit = "Referat LS 2"
        $bka_town = "65173 Wiesbaden"
        $bka_case = /Aktenzeichen NR\.:? ?#[0-9]{3,5}/
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and 2 of ($fbi, $cia, $room, $signer, $logged, $cia_office, $bka, $bka_signer, $bka_unit, $bka_town, $bka_case)
        and not $sober
}

rule Sober_Y_Authority_Lure_Text
{
    meta:
        family = "Sober"
        variant = "Y"
        confidence = "low"
        description = "FBI, CIA or BKA lure text; advisories quote it, so it stays low without an executable"
        reference = "wesawthat.blogspot.com/2005/11/new-email-virus-wormsoberag.html (Trend advisory); zdnet.de/39139416 (BKA text)"

    strings:
        $fbi = "Federal Bureau of Investigation -FBI-"
        $cia = "Central Intelligence Agency -CIA-"
        $room = "Room 3220"
        $signer = "Steven Allison"
        $logged = "on more than 30 illegal Websites" nocase
        $bka_signer = "Juergen Stock"
        $bka_unit = "Referat LS 2"
        $bka_case = /Aktenzeichen NR\.:? ?#[0-9]{3,5}/

    condition:
        object_kind == "message"
        and 2 of them
}

rule Sober_Y_Subject_With_Executable
{
    meta:
        family = "Sober"
        variant = "Y"
        confidence = "medium"
        description = "Sober.Y subject (underscores may replace spaces) together with an executable"
        reference = "wesawthat.blogspot.com/2005/11/new-email-virus-wormsoberag.html (Trend advisory); ciac.org C-Note-06-006; zdnet.de/39139416"

    strings:
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and subject matches /^((fwd?|re|wg|aw): ?)*(hi,[ _]ive[ _]a[ _]new[ _]mail[ _]address|you[ _]visit[ _]illegal[ _]websites|paris[ _]hilton[ _]&[ _]nicole[ _]richie|sie[ _]besitzen[ _]raubkopien|ermittlungsverfahren[ _]wurde[ _]eingeleitet)$/i
        and not $sober
}

rule Sober_Y_Subject
{
    meta:
        family = "Sober"
        variant = "Y"
        confidence = "low"
        description = "Sober.Y subject without an executable in the message"
        reference = "wesawthat.blogspot.com/2005/11/new-email-virus-wormsoberag.html (Trend advisory); zdnet.de/39139416"

    condition:
        object_kind == "message"
        and subject matches /^((fwd?|re|wg|aw): ?)*(hi,[ _]ive[ _]a[ _]new[ _]mail[ _]address|you[ _]visit[ _]illegal[ _]websites|paris[ _]hilton[ _]&[ _]nicole[ _]richie|sie[ _]besitzen[ _]raubkopien|ermittlungsverfahren[ _]wurde[ _]eingeleitet)$/i
}

rule Sober_Y_Authority_Sender_With_Executable
{
    meta:
        family = "Sober"
        variant = "Y"
        confidence = "medium"
        description = "From: at fbi.gov, cia.gov or bka.bund.de together with an executable; these agencies do not mail executables"
        reference = "tomshw.it fbi-attenzione-al-worm-sober-y (FBI senders); zdnet.de/39139416 (Downloads@bka.bund.de)"

    condition:
        object_kind == "message"
        and has_executable
        and (from_domain == "fbi.gov" or from_domain == "cia.gov" or from_domain == "bka.bund.de")
}

rule Sober_Y_Akte_Zip
{
    meta:
        family = "Sober"
        variant = "Y"
        confidence = "high"
        description = "BKA lure attachment Akte<number>.zip holding an executable"
        reference = "zdnet.de/39139416; report-k.de (Akte<NNNN>.zip matching the case number)"

    condition:
        object_kind == "part"
        and has_executable
        and file_name matches /(^|[\/\\])Akte[0-9]{3,5}\.zip$/i
}

/* ----------------------------------------------------------------------
   Sober.I (McAfee Sober.j), 19 Nov 2004: fake bounces and password mails,
   attachments named after the forged sender's domain.
   ---------------------------------------------------------------------- */

rule Sober_I_Attachment_Name
{
    meta:
        family = "Sober"
        variant = "I"
        confidence = "medium"
        description = "PE attachment named <label><4 digits>, <domain>.<4 digits> or <label>_<4 digits> with .bat/.com/.pif/.scr, optionally behind .txt or .eml"
        reference = "captured Sober.I mails in a public bug tracker (2004); vaxxine.com virusalerts"
        aliases = "Symantec W32.Sober.I@mm; Sophos W32/Sober-I; McAfee W32/Sober.j@MM; Trend WORM_SOBER.I"

    condition:
        object_kind == "part"
        and uint16(0) == 0x5A4D
        and file_name matches /(^|[\/\\])[a-z0-9][a-z0-9_-]{0,62}(\.[a-z0-9-]{2,24})?[._]?[0-9]{4}(\.(txt|eml|doc))?\.(bat|com|pif|scr)$/i
}

rule Sober_I_Bounce_With_Executable
{
    meta:
        family = "Sober"
        variant = "I"
        confidence = "high"
        description = "Sober.I fake bounce or password-mail body together with an executable"
        reference = "captured Sober.I mails in a public bug tracker (2004)"
        aliases = "McAfee W32/Sober.j@MM"

    strings:
        $errors = "Occured_Errors:"
        $remote = "Remote_host_said:_delivery_error"
        $sender = "_does_not_like_sender."
        $giving_up = "Giving_up_on_"
        $auto_mail = "Auto_Mail.System:"
        $more_info = /More info about --[A-Za-z0-9.-]{1,253}-- under: http:\/\/www\./
        $protected = "Protected message is attached!"
        $user_service = "++++++ User-Service: http://www."
        $mail_to = "++++++ MailTo: postmaster@"
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and 2 of ($errors, $remote, $sender, $giving_up, $auto_mail, $more_info, $protected, $user_service, $mail_to)
        and not $sober
}

rule Sober_I_Bounce_Text
{
    meta:
        family = "Sober"
        variant = "I"
        confidence = "low"
        description = "Sober.I fake bounce or password-mail body without an executable"
        reference = "captured Sober.I mails in a public bug tracker (2004)"

    strings:
        $errors = "Occured_Errors:"
        $remote = "Remote_host_said:_delivery_error"
        $sender = "_does_not_like_sender."
        $auto_mail = "Auto_Mail.System:"
        $more_info = /More info about --[A-Za-z0-9.-]{1,253}-- under: http:\/\/www\./
        $user_service = "++++++ User-Service: http://www."
        $mail_to = "++++++ MailTo: postmaster@"

    condition:
        object_kind == "message"
        and 2 of them
}

rule Sober_I_Footer_With_Executable
{
    meta:
        family = "Sober"
        variant = "I"
        confidence = "high"
        description = "Fake '*-*-*' anti-virus footer naming a scanner service, together with an executable"
        reference = "captured Sober.I mails in a public bug tracker (2004); vaxxine.com virusalerts"

    strings:
        $claim = /\*-\*-\* (Anti_Virus: No Virus was found|Mail_Scanner: No Virus|Attachment: No Virus found)/
        $service = /\*-\*-\* [A-Za-z0-9.-]{1,63}- Anti_Virus Service/
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and ($claim or $service)
        and not $sober
}

rule Sober_I_Footer
{
    meta:
        family = "Sober"
        variant = "I"
        confidence = "low"
        description = "Fake '*-*-*' anti-virus footer without an executable"
        reference = "captured Sober.I mails in a public bug tracker (2004)"

    strings:
        $claim = /\*-\*-\* (Anti_Virus: No Virus was found|Mail_Scanner: No Virus|Attachment: No Virus found)/
        $service = /\*-\*-\* [A-Za-z0-9.-]{1,63}- Anti_Virus Service/

    condition:
        object_kind == "message"
        and any of them
}

rule Sober_I_Subject_With_Executable
{
    meta:
        family = "Sober"
        variant = "I"
        confidence = "medium"
        description = "Sober.I subject (ticket tag such as <KEY:9854> or underscored wording) together with an executable"
        reference = "captured Sober.I mails in a public bug tracker (2004); vaxxine.com virusalerts; techspot.com/news/16340"

    strings:
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and (
            subject matches /^((fwd?|re): ?)*(registration confirmation|confirmation|your password|mail error|mail[ _]delivery[ _]failed|delivery[ _]failure[ _]notice|illegal signs in your e?mail) <(KEY:|error_:)?[0-9]{4}>$/i
            or subject matches /^((fwd?|re): ?)*(mail delivery_failed|delivery_failure_notice|mail_delivery_failure|faulty_mail delivery)$/i
            or subject matches /^HEY,, I've a new Mail-Address!!!$/i
        )
        and not $sober
}

rule Sober_I_Mail_Bat_Name
{
    meta:
        family = "Sober"
        variant = "I"
        confidence = "medium"
        description = "PE attachment named mail_<digits>, mail.<digits> or re_mail<digits> with .bat/.com/.pif/.scr"
        reference = "captured Sober.I mails in a public bug tracker (2004); unsecure.blogspot.com/2004/11/sober.html"

    condition:
        object_kind == "part"
        and uint16(0) == 0x5A4D
        and file_name matches /(^|[\/\\])(re_)?mail[._]?[0-9]{1,6}\.(bat|com|pif|scr)$/i
}

/* ----------------------------------------------------------------------
   World Cup tickets, 2 May 2005 (F-Secure Sober.P).
   ---------------------------------------------------------------------- */

rule Sober_P_Padded_Member
{
    meta:
        family = "Sober"
        variant = "P"
        confidence = "high"
        description = "ZIP member Winzipped-Text_Data.txt, padded with spaces, then .pif or .exe"
        reference = "bsu.edu Sober.O alert"
        aliases = "Symantec W32.Sober.O@mm; Sophos W32/Sober-N"

    condition:
        object_kind == "archive_member"
        and file_name matches /(^|[\/\\])Winzipped-Text_Data\.txt {2,}\.(pif|exe)$/i
}

rule Sober_P_Zip_Name_With_Executable
{
    meta:
        family = "Sober"
        variant = "P"
        confidence = "medium"
        description = "World Cup wave ZIP attachment name together with an executable"
        reference = "tagesspiegel.de/sport/wm-tickets-da-ist-der-wurm-drin/605912 (okTicket-info.zip); bsu.edu Sober.O alert"
        aliases = "Symantec W32.Sober.O@mm; Sophos W32/Sober-N"

    condition:
        object_kind == "part"
        and has_executable
        and file_name matches /(^|[\/\\])(okTicket-info|our_secret|mail_info|error-mail_info|account_info|account_info-text)\.zip$/i
}

rule Sober_P_Fifa_Sender_With_Executable
{
    meta:
        family = "Sober"
        variant = "P"
        confidence = "medium"
        description = "From: at fifa.de or ok2006.de together with an executable"
        reference = "tagesspiegel.de/sport/wm-tickets-da-ist-der-wurm-drin/605912 (ticket@fifa.de, fifa@ok2006.de)"

    condition:
        object_kind == "message"
        and has_executable
        and (from_domain == "fifa.de" or from_domain == "ok2006.de")
}

rule Sober_P_Footer_With_Executable
{
    meta:
        family = "Sober"
        variant = "P"
        confidence = "high"
        description = "Fake anti-virus status line at the start of a body line, together with an executable"
        reference = "bsu.edu Sober.O alert; cybercominc.com new-virus-alert-sobero"

    strings:
        $footer = /\n(\*\*\* )?(Attachment-Scanner: Status OK|Server-AntiVirus: No Virus \(Clean\)|AntiVirus: No Virus found)/
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and $footer
        and not $sober
}

rule Sober_P_Footer
{
    meta:
        family = "Sober"
        variant = "P"
        confidence = "low"
        description = "Fake anti-virus status line without an executable"
        reference = "bsu.edu Sober.O alert; cybercominc.com new-virus-alert-sobero"

    strings:
        $footer = /\n(\*\*\* )?(Attachment-Scanner: Status OK|Server-AntiVirus: No Virus \(Clean\)|AntiVirus: No Virus found)/

    condition:
        object_kind == "message"
        and $footer
}

/* ----------------------------------------------------------------------
   14-16 Nov 2005 wave (F-Secure Sober.T, Sober.W, Sober.Z).
   ---------------------------------------------------------------------- */

rule Sober_W_Packed_Member
{
    meta:
        family = "Sober"
        variant = "W"
        confidence = "high"
        description = "ZIP member Word-Text_packedList.exe, Exceltab-packed_List.exe or Reg-List-Dat_Packer2.exe; F-Secure spread this wave over T, W and Z"
        reference = "helpnetsecurity.com 2005/11/16 (Kaspersky Sober.u/v/w names); news.zdnet.co.uk 39237258"
        aliases = "Kaspersky Email-Worm.Win32.Sober.u/v/w; Symantec W32.Sober.W@mm; Sophos W32/Sober-T"

    condition:
        object_kind == "archive_member"
        and uint16(0) == 0x5A4D
        and file_name matches /(^|[\/\\])(Word-Text_packedList|Exceltab-packed_List|Reg-List-Dat_Packer2) *\.exe *$/i
}

rule Sober_W_Zip_Name_With_Executable
{
    meta:
        family = "Sober"
        variant = "W"
        confidence = "medium"
        description = "ZIP attachment Word-Text.zip, Word-Text_packedList.zip or reg_text.zip together with an executable"
        reference = "helpnetsecurity.com 2005/11/16; e-media.at (Word-text.zip)"

    condition:
        object_kind == "part"
        and has_executable
        and file_name matches /(^|[\/\\])(Word-Text|Word-Text_packedList|reg_text)\.zip$/i
}

rule Sober_W_Subject_With_Executable
{
    meta:
        family = "Sober"
        variant = "W"
        confidence = "medium"
        description = "Sober.W German subjects together with an executable"
        reference = "f-secure.com/v-descs/sober_w.shtml; e-media.at (Haben Sie diese Email verschickt?)"

    strings:
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and subject matches /^((fwd?|re|wg|aw): ?)*(Ihre eMail!|Haben Sie diese Email verschickt\?)$/i
        and not $sober
}

rule Sober_Z_Auto_Mail_System_With_Executable
{
    meta:
        family = "Sober"
        variant = "Z"
        confidence = "high"
        description = "Sober.Z password mail with an AutoMailSystem ticket number, together with an executable"
        reference = "f-secure.com/v-descs/sober_z.shtml"

    strings:
        $ticket = /Auto-?MailSystem: #[0-9A-Z]{12,18}/
        $packed = "Ge-Packt & Gesichert"
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and ($ticket or $packed or subject matches /^((Betr: )?Passwort & Account Daten|Password Confirmation)$/)
        and not $sober
}

rule Sober_Z_Auto_Mail_System_Text
{
    meta:
        family = "Sober"
        variant = "Z"
        confidence = "low"
        description = "Sober.Z ticket line without an executable"
        reference = "f-secure.com/v-descs/sober_z.shtml"

    strings:
        $ticket = /Auto-?MailSystem: #[0-9A-Z]{12,18}/

    condition:
        object_kind == "message"
        and $ticket
}

/* ----------------------------------------------------------------------
   Class-reunion photo, 5-6 Oct 2005. No F-Secure name: McAfee and
   Fortinet call it Sober.r, Sophos Sober-O/P.
   ---------------------------------------------------------------------- */

rule Sober_R_Packed_Member
{
    meta:
        family = "Sober"
        variant = "R"
        confidence = "high"
        description = "ZIP member PW_Klass.Pic.packed-bitmap.exe or dropper Screen_Photo.jpeg-graphic1.exe; variant letter from McAfee and Fortinet, F-Secure gave none"
        reference = "e-channelnews.com (McAfee advisory); fortiguard w32_sober.r@mm"
        aliases = "McAfee W32/Sober.r@MM!M-151; Fortinet W32/Sober.R@mm; Sophos W32/Sober-O, W32/Sober-P"

    condition:
        object_kind == "archive_member"
        and uint16(0) == 0x5A4D
        and file_name matches /(^|[\/\\])(PW_Klass\.Pic\.packed-bitmap|Screen_Photo\.jpeg-graphic1) *\.exe *$/i
}

/* ----------------------------------------------------------------------
   Generic: the late ZIP campaigns hid the executable behind a long name
   containing "packed" (packed-bitmap, packed_dataInfo, packedList).
   ---------------------------------------------------------------------- */

rule Sober_Packed_Member_Generic
{
    meta:
        family = "Sober"
        variant = ""
        confidence = "medium"
        description = "PE inside a ZIP whose name contains -packed, _packed or .packed before an .exe/.pif/.scr extension; variant unknown"
        reference = "synthesis of sophos.com 2005/11/soberz, e-channelnews.com (McAfee) and helpnetsecurity.com 2005/11/16 attachment names"

    condition:
        object_kind == "archive_member"
        and uint16(0) == 0x5A4D
        and file_name matches /(^|[\/\\])[A-Za-z0-9._-]{1,40}[-_.]packed[A-Za-z0-9._-]{0,40} *\.(exe|pif|scr)$/i
        // Names with a known variant are left to their own rules, so that
        // a sighting carries the variant.
        and not file_name matches /(^|[\/\\])(File-packed_dataInfo|Word-Text_packedList|Exceltab-packed_List|PW_Klass\.Pic\.packed-bitmap) *\.exe *$/i
}

/* ----------------------------------------------------------------------
   "I've got your e-mail on my account", Mar/Apr 2005. No F-Secure name:
   CNET reported it as Sober.M, some vendors as Sober-N.
   ---------------------------------------------------------------------- */

rule Sober_M_Your_Text_With_Executable
{
    meta:
        family = "Sober"
        variant = "M"
        confidence = "medium"
        description = "Subject I've_got your E-mail on my_account! (or its German versions) or attachment your_text.zip, together with an executable; variant letter as CNET reported it"
        reference = "cnet.com/news/sober-worm-makes-a-comeback; tech-insider.blogspot.com/2005/04; shopanbieter.de (German subjects)"

    strings:
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and (
            subject matches /^((fwd?|re): ?)*(I've_got your E-?Mail on my_account!|Ich bin's nochmal|Wichtig: Ich habe eine neue EMail-Adresse!)$/i
            or attachment_names matches /(^|\n)your_text\.zip(\n|$)/i
        )
        and not $sober
}

/* ----------------------------------------------------------------------
   Sober-K (Sophos), Feb 2005: first FBI lure.
   ---------------------------------------------------------------------- */

rule Sober_K_FBI_Lure_With_Executable
{
    meta:
        family = "Sober"
        variant = "K"
        confidence = "high"
        description = "FBI lure signed M. John Stellford, together with an executable; variant letter from Sophos"
        reference = "searchsecurity.techtarget.com/news/1061228"
        aliases = "Sophos W32/Sober-K; McAfee Sober.l@MM; Panda Sober-M"

    strings:
        $signer = "John Stellford"
        $room = "Room 2130"
        $logged = "on more than 40 illegal Websites" nocase
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and 2 of ($signer, $room, $logged)
        and not $sober
}

/* ----------------------------------------------------------------------
   Sober (A), Oct 2003: bare attachments from a fixed name list, forged
   X-Mailer.
   ---------------------------------------------------------------------- */

rule Sober_A_Attachment_Name
{
    meta:
        family = "Sober"
        variant = "A"
        confidence = "medium"
        description = "PE attachment with one of the distinctive Sober.A file names"
        reference = "liutilities.com/malware/computer-worm/w32-sober-mm; symantec.com 2003-102410-5713-99"
        aliases = "Symantec W32.Sober@mm; Sophos W32/Sober-A; Kaspersky I-Worm.Sober.a"

    condition:
        object_kind == "part"
        and uint16(0) == 0x5A4D
        and file_name matches /(^|[\/\\])(anti_virusdoc\.pif|Anti-Sob\.bat|AntiVirusDoc\.pif|Check-Patch\.bat|CM-Recover\.com|Hengst\.pif|Mausi\.scr|NackiDei\.com|Odin_Worm\.exe|Perversionen\.scr|little-scr\.scr|potency\.pif|robot_mail\.scr|robot_mailer\.pif|RobotMailer\.com|schnitzel\.exe|Screen_Doku\.scr|screen_doc\.scr)$/i
}

rule Sober_A_Safety_Mail_With_Executable
{
    meta:
        family = "Sober"
        variant = "A"
        confidence = "high"
        description = "Forged X-Mailer: Safety_Mail Server together with an executable"
        reference = "www.f-secure.com/v-descs/sober.shtml"

    strings:
        $mailer = /\nX-Mailer: Safety_Mail Server/ nocase

    condition:
        object_kind == "message"
        and has_executable
        and $mailer
}

rule Sober_A_Subject_With_Executable
{
    meta:
        family = "Sober"
        variant = "A"
        confidence = "medium"
        description = "Sober.A German or English subject together with an executable"
        reference = "www.f-secure.com/v-descs/sober.shtml; gamona.de news 52461; cogitoveritas.com"

    strings:
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and subject matches /^(Sie versenden Spam Mails \(Virus\?\)|Ein Wurm ist auf Ihrem Computer!|Sie haben mir einen Wurm geschickt!|Hi Schnuckel was machst du so \?|Na Schnuckel, was machst du so\?!|Jetzt rate mal, wer ich bin\?!|A worm is on your computer|You have sent me a virus|New Sobig-Worm variation \(please read\))$/i
        and not $sober
}

/* ----------------------------------------------------------------------
   Sober.C, Dec 2003, and Sober.D, Mar 2004.
   ---------------------------------------------------------------------- */

rule Sober_C_Terror_List
{
    meta:
        family = "Sober"
        variant = "C"
        confidence = "high"
        description = "PE attachment named terror-list.com"
        reference = "kaspersky.co.in press release internet-worm-sober-returns"
        aliases = "Symantec W32.Sober.C@mm; Sophos W32/Sober-C; McAfee W32/Sober.c@MM"

    condition:
        object_kind == "part"
        and uint16(0) == 0x5A4D
        and file_name matches /(^|[\/\\])terror-list\.com$/i
}

rule Sober_C_Subject_With_Executable
{
    meta:
        family = "Sober"
        variant = "C"
        confidence = "medium"
        description = "Sober.C subject together with an executable"
        reference = "siliconrepublic.com tis-the-season-for-sober; techworld.com worm-threatens-a-sober-xmas"

    strings:
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and subject matches /^(Preliminary investigation were started|You use illegal File Sharing|Sorry, that's your mail|Thankyou very very much)$/i
        and not $sober
}

rule Sober_D_Microsoft_Alert_With_Executable
{
    meta:
        family = "Sober"
        variant = "D"
        confidence = "high"
        description = "Fake Microsoft patch subject together with an executable"
        reference = "zdnet.com/article/bilingual-worm-masquerades-as-microsoft-patch"
        aliases = "Roca.a"

    strings:
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and subject matches /^(Microsoft Alert: Please Read!|Microsoft Alarm: Bitte Lesen!)$/i
        and not $sober
}

/* ----------------------------------------------------------------------
   Sober.Q, 14-15 May 2005: German nationalist spam with no attachment.
   A subject alone can be a news headline, and news, advisories and
   backscatter reports quote these subjects, so a subject alone stays
   low. Plain phrases such as "Gegen das Vergessen", "Augen auf" or
   "Dresden 1945" never go above low. For the slogans and the subjects
   spelled with ae/oe/ue, the medium rule adds what the spam itself looked
   like: no attachment, a short text, one to three links (to press
   articles or party pages) and no word about a worm, a virus or spam,
   which every article or advisory about the run contains. When the
   recipients are known, the subject's language must also match Sober's
   choice for them.
   The June 2004 run of Sober.G/H sent similar spam, but its subjects are
   not documented, so it has no rule of its own.
   ---------------------------------------------------------------------- */

rule Sober_Q_Spam_Subject
{
    meta:
        family = "Sober"
        variant = "Q"
        confidence = "low"
        description = "Subject of the Sober.Q propaganda spam run; news and advisories quote it, so it is reported only"
        reference = "schieb.de soberq; theregister.co.uk/2005/05/16/sober_spews_spam; theage.com.au 2005/05/16"
        aliases = "CA Sober-O"

    condition:
        object_kind == "message"
        and not has_executable
        and (
            subject matches /^(Dresden 1945|Du wirst zum Sklaven gemacht!!!|Du wirst ausspioniert|Multi-Kulturell = Multi-Kriminell|Gegen das Vergessen|Deutsche Buerger trauen sich nicht.*|Deutsche werden kuenftig beim Arzt abgezockt.*|4,8 Mill\. Osteuropaeer durch Fischer-Volmer Erlass.*|Auf Streife durch den Berliner Wedding|Paranoider Deutschenmoerder kommt in Psychiatrie|Volk wird nur zum zahlen.*|Augen auf|Auslaender bevorzugt|Auslaenderpolitik|Blutige Selbstjustiz|Graeberschaendung auf bundesdeutsche.*|Hier sind wir Lehrer die einzigen Auslaender|.*[0-9]+ Jahre Befreiung.*|Massenhafter Steuerbetrug durch auslaendische.*|Polizei schlaegt Alarm|Schily ueber Deutschland|Transparenz ist das Mindeste|Trotz Stellenabbau.*|Tuerkei in die .*|Verbrechen der deutschen Frau|Vorbildliche Aktion)$/i
            or subject matches /^(Dresden Bombing Is To Be Regretted Enormously|Armenian Genocide Plagues Ankara 90 Years On|Turkish Tabloid Enrages Germany with Nazi Comparisons|The Whore Lived Like a German|Can you believe this still happens today|60 Years of Freedom: Who's Celebrating\?|Honourable Action)$/i
        )
}

rule Sober_Q_Spam_Mail
{
    meta:
        family = "Sober"
        variant = "Q"
        confidence = "medium"
        description = "Sober.Q spam: one of the run subjects that legitimate mail would hardly use (political slogans, ae/oe/ue spellings), no attachment, a short text with one to three links, no word about worms or spam, language as Sober chose it for the recipients"
        reference = "theregister.co.uk/2005/05/16/sober_spews_spam (no attachment, links to press articles, German/English split); schieb.de soberq (subjects)"
        aliases = "CA Sober-O"

    strings:
        $url = /https?:\/\/[a-z0-9][a-z0-9.-]{2,}/ nocase
        $sober = "sober" nocase
        $wurm = "wurm" nocase
        $worm = "worm" nocase
        $virus = "virus" nocase
        $viren = "viren" nocase
        $spam = "spam" nocase
        $trojan = "trojan" nocase

    condition:
        object_kind == "message"
        and filesize < 8KB
        and not has_executable
        and not has_zip
        and attachment_names == ""
        and #url >= 1 and #url <= 3
        and not any of ($sober, $wurm, $worm, $virus, $viren, $spam, $trojan)
        and (
            (subject matches /^(Du wirst zum Sklaven gemacht!!!|Multi-Kulturell = Multi-Kriminell|Deutsche Buerger trauen sich nicht.*|Deutsche werden kuenftig beim Arzt abgezockt.*|4,8 Mill\. Osteuropaeer durch Fischer-Volmer Erlass.*|Paranoider Deutschenmoerder kommt in Psychiatrie|Volk wird nur zum zahlen.*|Auslaender bevorzugt|Auslaenderpolitik|Graeberschaendung auf bundesdeutsche.*|Hier sind wir Lehrer die einzigen Auslaender|Massenhafter Steuerbetrug durch auslaendische.*|Polizei schlaegt Alarm|Schily ueber Deutschland|Tuerkei in die .*|Verbrechen der deutschen Frau)$/i and (recipient_language == "" or recipient_language == "de"))
            or (subject matches /^(Dresden Bombing Is To Be Regretted Enormously|Armenian Genocide Plagues Ankara 90 Years On|Turkish Tabloid Enrages Germany with Nazi Comparisons|The Whore Lived Like a German)$/i and (recipient_language == "" or recipient_language == "en"))
        )
}

/* ----------------------------------------------------------------------
   May 2007 variant (McAfee Sober.gen@MM, possibly F-Secure Sober.AA).
   ---------------------------------------------------------------------- */

rule Sober_AA_Zip_Name_With_Executable
{
    meta:
        family = "Sober"
        variant = "AA"
        confidence = "medium"
        description = "ZIP attachment Passw_Data<digits>.zip, Mail_Data<digits>.zip or Anleitung<digits>.zip together with an executable; the AA letter is uncertain"
        reference = "lockergnome.com/2007/05/08; vil.nai.com/vil/content/v_102139.htm"
        aliases = "McAfee W32/Sober.gen@MM"

    condition:
        object_kind == "part"
        and has_executable
        and file_name matches /(^|[\/\\])(Passw_Data|Mail_Data|Anleitung)[0-9]{1,8}\.zip$/i
}

rule Sober_AA_Subject_With_Executable
{
    meta:
        family = "Sober"
        variant = "AA"
        confidence = "medium"
        description = "May 2007 subject together with an executable; the AA letter is uncertain"
        reference = "vil.nai.com/vil/content/v_102139.htm; lockergnome.com/2007/05/08"

    strings:
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and subject matches /^(Ihr Passwort wurde geaendert!|Fehlerhafte Mailzustellung|Ihr Account wurde eingerichtet!|Your Updated Password!|Error in your eMail)$/i
        and not $sober
}

/* ----------------------------------------------------------------------
   Sober.G, Jun 2004: HELO fingerprint. With MAIL FROM foo@bar.com the
   worm greets with HELO foo.com. YARA cannot compare two externals, so
   wormsign computes helo_matches_sober_g from the session. The Qsmtp mail
   server rejects on this fingerprint alone; it is medium here because a
   HELO that fits it by chance is rare but not impossible.
   ---------------------------------------------------------------------- */

rule Sober_G_Helo_Fingerprint
{
    meta:
        family = "Sober"
        variant = "G"
        confidence = "medium"
        description = "HELO is the envelope sender's local part plus the sender domain's last label (foo@bar.com greets as foo.com)"
        reference = "github.com/DerDakon/Qsmtp qsmtpd/filters/soberg.c and doc/man/filterconf.5 (block_SoberG)"
        aliases = "Trend WORM_SOBER.G; Kaspersky Sober.g"

    condition:
        object_kind == "message"
        and helo_matches_sober_g
        and not has_executable
}

rule Sober_G_Helo_With_Executable
{
    meta:
        family = "Sober"
        variant = "G"
        confidence = "high"
        description = "Sober.G HELO fingerprint together with an executable in the message"
        reference = "github.com/DerDakon/Qsmtp qsmtpd/filters/soberg.c"
        aliases = "Trend WORM_SOBER.G; Kaspersky Sober.g"

    condition:
        object_kind == "message"
        and helo_matches_sober_g
        and has_executable
}

/* ----------------------------------------------------------------------
   Sober.F, Apr 2004: always a .pif or a .zip attachment; subjects vary.
   ---------------------------------------------------------------------- */

rule Sober_F_Subject_With_Pif_Or_Zip
{
    meta:
        family = "Sober"
        variant = "F"
        confidence = "medium"
        description = "Sober.F subject together with an executable and a .pif or .zip attachment"
        reference = "helpnetsecurity.com/2004/04/05 (subjects); archive.f-secure.com/weblog/archives/00000117 (always .PIF or .ZIP)"
        aliases = "Sophos W32/Sober-F; Kaspersky I-Worm.Vb.C"

    strings:
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and subject matches /^(Oh my God|Well, surprise\?!|Bad Gateway)$/i
        and attachment_names matches /\.(pif|zip) *(\n|$)/i
        and not $sober
}

/* ----------------------------------------------------------------------
   More lure texts of the campaigns above. Each needs an executable in
   the message to count, and stays low without one.
   ---------------------------------------------------------------------- */

rule Sober_A_Odin_With_Executable
{
    meta:
        family = "Sober"
        variant = "A"
        confidence = "high"
        description = "Body signed Odin alias Anon together with an executable"
        reference = "helpnetsecurity.com/?p=323"

    strings:
        $odin = "Odin alias Anon" nocase
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and $odin
        and not $sober
}

rule Sober_C_Akte_Zip
{
    meta:
        family = "Sober"
        variant = "C"
        confidence = "medium"
        description = "Kripo lure attachment akte.zip (no number, unlike Sober.Y's Akte<NNNN>.zip) holding an executable"
        reference = "blog.docx.org/2004/01/13/entry01306"

    condition:
        object_kind == "part"
        and has_executable
        and file_name matches /(^|[\/\\])akte\.zip$/i
}

rule Sober_D_Patch_Lure_With_Executable
{
    meta:
        family = "Sober"
        variant = "D"
        confidence = "high"
        description = "Fake Microsoft patch body (MyDoom variant, 1 in 45 e-mails, port 13468) together with an executable"
        reference = "eweek.com worm-masquerades-as-microsoft-patch-2; itprotoday.com/strategy/soberd-poses-microsoft-patch"
        aliases = "Roca.a"

    strings:
        $ratio = "1 in 45 e-mails" nocase
        $port = "port 13468" nocase
        $mydoom = "mydoom" nocase
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and 2 of ($ratio, $port, $mydoom)
        and not $sober
}

rule Sober_K_Subject_With_Executable
{
    meta:
        family = "Sober"
        variant = "K"
        confidence = "medium"
        description = "Sober-K subject Paris Hilton, pure! or Paris Hilton SexVideos together with an executable; variant letter from Sophos"
        reference = "arnnet.com.au/article/127970; infoworld.com/article/2670725"
        aliases = "Sophos W32/Sober-K; McAfee Sober.l@MM"

    strings:
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and subject matches /^((fwd?|re): ?)*(Paris Hilton, pure!|Paris Hilton SexVideos)$/i
        and not $sober
}

rule Sober_P_Subject_With_Executable
{
    meta:
        family = "Sober"
        variant = "P"
        confidence = "medium"
        description = "World Cup wave subject (German, or English with the spaces removed) together with an executable"
        reference = "schieb.de/354080 (German subjects); cso.com.au/article/682; bsu.edu Sober.O alert (Re:YourPassword and others)"
        aliases = "Symantec W32.Sober.O@mm; Sophos W32/Sober-N"

    strings:
        $sober = "sober" nocase

    // "Mail-Fehler", "Ihre E-Mail wurde verweigert" and "Your email was
    // blocked" are left out: a real gateway notice may use them and attach
    // the blocked original, and its sender is an innocent relay.
    condition:
        object_kind == "message"
        and has_executable
        and subject matches /^(Ich bin's, was zum Lachen|Re:YourPassword|Re:RegistrationConfirmation|Re:Youremailwasblocked|Re:malingerror)$/i
        and not $sober
}

rule Sober_P_Body_With_Executable
{
    meta:
        family = "Sober"
        variant = "P"
        confidence = "high"
        description = "World Cup wave body 'ok ok ok,,,,, here is it' together with an executable"
        reference = "bsu.edu Sober.O alert"
        aliases = "Symantec W32.Sober.O@mm; Sophos W32/Sober-N"

    strings:
        $ok = "ok ok ok,,,,, here is it" nocase
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and $ok
        and not $sober
}

rule Sober_R_Password_With_Executable
{
    meta:
        family = "Sober"
        variant = "R"
        confidence = "medium"
        description = "Class-reunion wave English lure (subject Your new Password, password changed, see the attached file) together with a ZIP and an executable"
        reference = "e-channelnews.com (McAfee advisory)"
        aliases = "McAfee W32/Sober.r@MM!M-151; Sophos W32/Sober-O, W32/Sober-P"

    strings:
        $changed = "Your password was successfully changed!" nocase
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and has_zip
        and subject matches /^((fwd?|re): ?)*Your new Password$/i
        and $changed
        and not $sober
}

rule Sober_W_English_Lure_With_Executable
{
    meta:
        family = "Sober"
        variant = "W"
        confidence = "high"
        description = "Sober.W English body apologising for its English together with an executable"
        reference = "f-secure.com/v-descs/sober_w.shtml"

    strings:
        $sorry = "Sorry, sorry sorry, because,, my English is not the best!" nocase
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and $sorry
        and not $sober
}

rule Sober_Y_Body_With_Executable
{
    meta:
        family = "Sober"
        variant = "Y"
        confidence = "medium"
        description = "Sober.Y body marker (cyaaaaaaa, SMTP_Error [], ***** Go to: http://www., the Paris Hilton download offer) together with a ZIP and an executable"
        reference = "wesawthat.blogspot.com/2005/11/new-email-virus-wormsoberag.html (Trend advisory)"
        aliases = "Symantec W32.Sober.X@mm; Sophos W32/Sober-Z; Trend WORM_SOBER.AG"

    strings:
        $cya = "cyaaaaaaa" nocase
        $smtp_error = "SMTP_Error []"
        $go_to = "***** Go to: http://www."
        $free = "Download is free until Jan, 2006!"
        $sober = "sober" nocase

    condition:
        object_kind == "message"
        and has_executable
        and has_zip
        and any of ($cya, $smtp_error, $go_to, $free)
        and not $sober
}

rule Sober_Lure_Text
{
    meta:
        family = "Sober"
        variant = ""
        confidence = "low"
        description = "A Sober lure phrase without an executable; reported only, because advisories quote these phrases"
        reference = "helpnetsecurity.com/?p=323; eweek.com worm-masquerades-as-microsoft-patch-2; bsu.edu Sober.O alert; f-secure.com/v-descs/sober_w.shtml; wesawthat.blogspot.com/2005/11 (Trend advisory)"

    strings:
        $odin = "Odin alias Anon" nocase
        $port = "port 13468" nocase
        $ok = "ok ok ok,,,,, here is it" nocase
        $sorry = "Sorry, sorry sorry, because,, my English is not the best!" nocase
        $cya = "cyaaaaaaa" nocase
        $go_to = "***** Go to: http://www."
        $free = "Download is free until Jan, 2006!"

    condition:
        object_kind == "message"
        and not has_executable
        and any of them
}
