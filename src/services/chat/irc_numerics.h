/*
 * irc_numerics.h - the replies of the chat's IRC protocol (RFC 2812
 * section 5), as formats for irc_numeric() in proto_irc.c, which puts
 * ":SERVER_NAME " before them.  The first %s is always the receiver's
 * nickname ("*" before it has one).  One place for every string the
 * protocol sends, as ngIRCd's messages.h.
 */
#ifndef MULTID_CHAT_IRC_NUMERICS_H
#define MULTID_CHAT_IRC_NUMERICS_H

/* Registration. */
#define RPL_WELCOME          "001 %s :Welcome to the multid IRC network %s!%s@%s"
#define RPL_YOURHOST         "002 %s :Your host is %s, running version multid-%s"
#define RPL_CREATED          "003 %s :This server speaks RFC 2812 for the multid chat"
#define RPL_MYINFO           "004 %s %s multid-%s o nt"
#define RPL_ISUPPORT         "005 %s CHANTYPES=# NICKLEN=%d CASEMAPPING=ascii " \
                             "CHANLIMIT=#:%d CHANNELLEN=%d TOPICLEN=%d " \
                             "AWAYLEN=%d MAXTARGETS=%d CHANMODES=,,,nt " \
                             "PREFIX=() NETWORK=multid " \
                             ":are supported by this server"

/* Users and queries. */
#define RPL_UMODEIS          "221 %s +"
#define RPL_AWAY             "301 %s %s :%s"
#define RPL_UNAWAY           "305 %s :You are no longer marked as being away"
#define RPL_NOWAWAY          "306 %s :You have been marked as being away"
#define RPL_WHOISUSER        "311 %s %s %s %s * :%s"
#define RPL_USERHOST         "302 %s :%s"
#define RPL_ISON             "303 %s :%s"
#define RPL_WHOISSERVER      "312 %s %s %s :multid chat"
#define RPL_ENDOFWHO         "315 %s %s :End of WHO list"
#define RPL_WHOISIDLE        "317 %s %s %lld :seconds idle"
#define RPL_ENDOFWHOIS       "318 %s %s :End of WHOIS list"
#define RPL_WHOISCHANNELS    "319 %s %s :%s"
#define RPL_LIST             "322 %s #%s %u :%s"
#define RPL_LISTEND          "323 %s :End of LIST"
#define RPL_CHANNELMODEIS    "324 %s #%s +nt"
#define RPL_NOTOPIC          "331 %s #%s :No topic is set"
#define RPL_TOPIC            "332 %s #%s :%s"
#define RPL_WHOREPLY         "352 %s %s %s %s %s %s %s :0 %s"
#define RPL_NAMREPLY         "353 %s = #%s :%s"
#define RPL_ENDOFNAMES       "366 %s %s%s :End of NAMES list"
#define RPL_ENDOFBANLIST     "368 %s #%s :End of channel ban list"
#define RPL_MOTD             "372 %s :- %.*s"
#define RPL_MOTDSTART        "375 %s :- %s Message of the day - "
#define RPL_ENDOFMOTD        "376 %s :End of MOTD command"

/* Errors. */
#define ERR_NOSUCHNICK       "401 %s %s :No such nick/channel"
#define ERR_NOSUCHCHANNEL    "403 %s %s :No such channel"
#define ERR_CANNOTSENDTOCHAN "404 %s %s :Cannot send to channel"
#define ERR_TOOMANYCHANNELS  "405 %s %s :You have joined too many channels"
#define ERR_NOORIGIN         "409 %s :No origin specified"
#define ERR_INVALIDCAPCMD    "410 %s %s :Invalid CAP command"
#define ERR_NORECIPIENT      "411 %s :No recipient given (%s)"
#define ERR_NOTEXTTOSEND     "412 %s :No text to send"
#define ERR_UNKNOWNCOMMAND   "421 %s %s :Unknown command"
#define ERR_NOMOTD           "422 %s :MOTD File is missing"
#define ERR_NONICKNAMEGIVEN  "431 %s :No nickname given"
#define ERR_ERRONEUSNICKNAME "432 %s %s :Erroneous nickname"
#define ERR_NICKNAMEINUSE    "433 %s %s :Nickname is already in use"
#define ERR_NOTONCHANNEL     "442 %s %s :You're not on that channel"
#define ERR_NOTREGISTERED    "451 %s :You have not registered"
#define ERR_NEEDMOREPARAMS   "461 %s %s :Not enough parameters"
#define ERR_ALREADYREGISTRED "462 %s :Unauthorized command (already registered)"
#define ERR_CHANOPRIVSNEEDED "482 %s #%s :You're not channel operator"
#define ERR_USERSDONTMATCH   "502 %s :Cannot change mode for other users"

/* Sent without a numeric. */
#define IRC_TOO_LONG         "417 * :Input line was too long"
#define IRC_BUSY             "ERROR :Closing Link: * (Server busy)\r\n"
#define IRC_INVALID_UTF8     "NOTICE %s :invalid UTF-8, not delivered"

#endif
