// Validates FIX messages with QuickFIX's own DataDictionary, for the agreement test in
// Tests/FIXDictionaryTests. Reads one SOH-delimited message per line on stdin and writes
// one line per message: "OK", "<SessionRejectReason> <RefTagID>", or "PARSE" when
// QuickFIX cannot read it at all. Built by the test with Debian's libquickfix-dev.
//
//   g++ -std=gnu++11 -O1 qf_validate.cpp -lquickfix -lpthread -o qf_validate
//   qf_validate FIX44.xml < messages
#include <quickfix/DataDictionary.h>
#include <quickfix/Exceptions.h>
#include <quickfix/Message.h>
#include <iostream>
#include <string>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::cerr << "usage: qf_validate DICTIONARY.xml < messages\n";
    return 2;
  }
  FIX::DataDictionary dictionary(argv[1]);
  std::string line;
  while (std::getline(std::cin, line)) {
    try {
      FIX::Message message;
      message.setString(line, true, &dictionary, &dictionary);
      FIX::DataDictionary::validate(message, &dictionary, &dictionary);
      std::cout << "OK\n";
    } catch (FIX::InvalidTagNumber &e) {
      std::cout << "0 " << e.field << "\n";
    } catch (FIX::RequiredTagMissing &e) {
      std::cout << "1 " << e.field << "\n";
    } catch (FIX::TagNotDefinedForMessage &e) {
      std::cout << "2 " << e.field << "\n";
    } catch (FIX::NoTagValue &e) {
      std::cout << "4 " << e.field << "\n";
    } catch (FIX::IncorrectTagValue &e) {
      std::cout << "5 " << e.field << "\n";
    } catch (FIX::IncorrectDataFormat &e) {
      std::cout << "6 " << e.field << "\n";
    } catch (FIX::InvalidMessageType &e) {
      std::cout << "11 0\n";
    } catch (FIX::RepeatedTag &e) {
      std::cout << "13 " << e.field << "\n";
    } catch (FIX::TagOutOfOrder &e) {
      std::cout << "14 " << e.field << "\n";
    } catch (FIX::RepeatingGroupCountMismatch &e) {
      std::cout << "16 " << e.field << "\n";
    } catch (FIX::InvalidMessage &e) {
      std::cout << "PARSE\n";
    } catch (FIX::FieldNotFound &e) {
      std::cout << "1 " << e.field << "\n";
    } catch (FIX::Exception &e) {
      std::cout << "OTHER\n";
    }
  }
  return 0;
}
