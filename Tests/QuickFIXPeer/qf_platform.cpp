// A trading platform's drop copy, played by QuickFIX C++ (Debian's libquickfix-dev).
// It connects to Counterfoil as a FIX 4.4 initiator over TLS with a client certificate
// and sends ExecutionReports numbered 1...TOTAL, each derived from its number alone
// (see AcceptorTLSTests.swift, which computes the books they must produce).
//
//   qf_platform CONFIG TOTAL PROGRESS_FILE [PRESEND]
//
// PROGRESS_FILE holds the number of the last report handed to QuickFIX; a run goes on
// from there, so the test can kill the process at any moment and start it again.
// QuickFIX's FileStore keeps its sequence numbers and sent messages across the kill.
// PRESEND reports are handed to QuickFIX before it logs on: they are stored and take
// sequence numbers but are not sent, so the acceptor sees a gap and must ask for them.
// After the last report (and a reconnect, if the acceptor went away meanwhile) the
// program logs out and exits 0 once the acceptor answered;
// it exits 1 if it is not logged on within QF_LOGON_WAIT seconds (default 30).
// QF_PAUSE_AT=N makes it wait after report N, for a test to kill it there.
// QF_RATE=R hands over R reports a second (default: as fast as it can, in bursts of 50).
// QF_FINISH_WHEN=FILE makes it wait, once every report is handed over, until FILE exists
// before it synchronises and logs out (scripts/soak-kill creates it after its last kill).

#include "quickfix/Application.h"
#include "quickfix/FileStore.h"
#include "quickfix/Log.h"
#include "quickfix/Session.h"
#include "quickfix/SessionSettings.h"
#include "quickfix/ThreadedSSLSocketInitiator.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

namespace {

std::atomic<bool> loggedOn(false);
std::atomic<bool> logoutRequested(false);
std::atomic<bool> loggedOut(false);
// The TestReqID last sent, and the last one a Heartbeat answered.
std::atomic<long> probeSent(0);
std::atomic<long> probeAnswered(0);

class Platform : public FIX::Application {
public:
    void onCreate(const FIX::SessionID&) override {}
    void onLogon(const FIX::SessionID&) override { loggedOn = true; }
    void onLogout(const FIX::SessionID&) override {
        // A dropped line also ends up here; only the Logout we asked for ends the run.
        if (loggedOn && logoutRequested) loggedOut = true;
        loggedOn = false;
    }
    void toAdmin(FIX::Message&, const FIX::SessionID&) override {}
    void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
    void fromAdmin(const FIX::Message& message, const FIX::SessionID&)
        throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override {
        if (message.getHeader().getField(35) == "0" && message.isSetField(112)) {
            probeAnswered = std::atol(message.getField(112).c_str());
        }
    }
    void fromApp(const FIX::Message&, const FIX::SessionID&)
        throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override {}
};

// Report k: account QF0...QF3, two instruments, buys and sells, quantities 100...700.
FIX::Message report(long k) {
    FIX::Message message;
    message.getHeader().setField(35, "8");
    std::string n = std::to_string(k);
    message.setField(1, "QF" + std::to_string(k % 4));
    message.setField(6, "101.25");
    message.setField(11, "ORD" + n);
    std::string quantity = std::to_string((k % 7 + 1) * 100);
    message.setField(14, quantity);
    message.setField(15, "GBP");
    message.setField(17, "QFEX" + n);
    message.setField(31, k % 2 == 0 ? "101.25" : "99.5");
    message.setField(32, quantity);
    message.setField(37, "QFORD" + n);
    message.setField(38, quantity);
    message.setField(39, "2");
    message.setField(54, k % 3 == 0 ? "2" : "1");
    message.setField(55, k % 2 == 0 ? "VOD.L" : "BARC.L");
    message.setField(60, "20261129-10:00:00.000");
    message.setField(75, "20261129");
    message.setField(150, "F");
    message.setField(151, "0");
    return message;
}

long readProgress(const std::string& path) {
    std::ifstream in(path);
    long done = 0;
    if (in) in >> done;
    return done;
}

void writeProgress(const std::string& path, long done) {
    // Rewritten in place; a kill between QuickFIX storing report k and this write means
    // report k goes out again under a new number with the same ExecID, which the books
    // must recognise as the same execution.
    FILE* file = std::fopen(path.c_str(), "w");
    if (!file) return;
    std::fprintf(file, "%ld\n", done);
    std::fclose(file);
}

bool waitFor(const std::atomic<bool>& flag, int seconds) {
    for (int i = 0; i < seconds * 100; ++i) {
        if (flag) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return flag;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::cerr << "usage: qf_platform CONFIG TOTAL PROGRESS_FILE [PRESEND]" << std::endl;
        return 2;
    }
    const std::string config = argv[1];
    const long total = std::atol(argv[2]);
    const std::string progress = argv[3];
    const long presend = argc > 4 ? std::atol(argv[4]) : 0;
    try {
        FIX::SessionSettings settings(config);
        Platform platform;
        FIX::FileStoreFactory storeFactory(settings);
        FIX::ScreenLogFactory logFactory(false, false, true);
        FIX::ThreadedSSLSocketInitiator initiator(platform, storeFactory, settings, logFactory);
        const FIX::SessionID session = *settings.getSessions().begin();

        long done = readProgress(progress);
        for (long i = 0; i < presend && done < total; ++i) {
            FIX::Message message = report(done + 1);
            FIX::Session::sendToTarget(message, session);
            writeProgress(progress, ++done);
        }
        initiator.start();
        const int logonWait = std::getenv("QF_LOGON_WAIT") ? std::atoi(std::getenv("QF_LOGON_WAIT")) : 30;
        if (!waitFor(loggedOn, logonWait)) {
            initiator.stop(true);
            std::cerr << "qf_platform: no logon within " << logonWait << " s" << std::endl;
            return 1;
        }
        // QF_PAUSE_AT=N: after handing report N to QuickFIX, wait (for the test's SIGKILL),
        // so that the kill lands mid-stream however fast or slow the machine is.
        const long pauseAt = std::getenv("QF_PAUSE_AT") ? std::atol(std::getenv("QF_PAUSE_AT")) : 0;
        const long rate = std::getenv("QF_RATE") ? std::atol(std::getenv("QF_RATE")) : 0;
        while (done < total) {
            FIX::Message message = report(done + 1);
            FIX::Session::sendToTarget(message, session);
            writeProgress(progress, ++done);
            if (rate > 0) {
                std::this_thread::sleep_for(std::chrono::microseconds(1000000 / rate));
            } else if (done % 50 == 0) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            if (done == pauseAt) std::this_thread::sleep_for(std::chrono::seconds(600));
        }
        // If the line dropped (the acceptor was killed, or could not write), QuickFIX
        // reconnects on its own, and the acceptor asks for what it lacks. Log out only
        // once a TestRequest is answered on a live session: the acceptor answers it once
        // everything before it is durable, and a "logged on" seen just before a drop is
        // stale (logging out then would stop QuickFIX from reconnecting).
        if (const char* gate = std::getenv("QF_FINISH_WHEN")) {
            while (!std::ifstream(gate).good()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        bool synced = false;
        for (int attempt = 0; attempt < 20 && !synced; ++attempt) {
            if (!waitFor(loggedOn, 60)) {
                std::cerr << "qf_platform: not logged on again within 60 s" << std::endl;
                return 1;
            }
            const long probe = ++probeSent;
            FIX::Message request;
            request.getHeader().setField(35, "1");
            request.setField(112, std::to_string(probe));
            FIX::Session::sendToTarget(request, session);
            for (int i = 0; i < 100 && probeAnswered < probe; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            synced = probeAnswered >= probe;
        }
        if (!synced) {
            std::cerr << "qf_platform: no TestRequest answered" << std::endl;
            return 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        logoutRequested = true;
        FIX::Session::lookupSession(session)->logout("all reports sent");
        bool answered = waitFor(loggedOut, 30);
        initiator.stop();
        if (!answered) {
            std::cerr << "qf_platform: no Logout answer within 30 s" << std::endl;
            return 1;
        }
        std::cout << "qf_platform: sent " << done << " reports" << std::endl;
        return 0;
    } catch (std::exception& error) {
        std::cerr << "qf_platform: " << error.what() << std::endl;
        return 1;
    }
}
