// iotgw-auth-file: adds a user to an auth-file credentials file, reading the password from the
// terminal without echo (or, when stdin is not a terminal, its first line: for scripts).
//   iotgw-auth-file add FILE USER DEVICE
#include <termios.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>

#include "credentials.hpp"

namespace {

std::string read_password() {
  const bool tty = isatty(STDIN_FILENO) != 0;
  termios old{};
  if (tty) {
    std::cerr << "password: " << std::flush;
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string password;
  std::getline(std::cin, password);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  }
  return password;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 || std::string(argv[1]) != "add") {
    std::cerr
        << "usage: iotgw-auth-file add FILE USER DEVICE   (the password is read from stdin)\n";
    return 2;
  }
  const std::filesystem::path file = argv[2];
  try {
    auto creds = std::filesystem::exists(file) ? iotgw::authfile::Credentials::load(file)
                                               : iotgw::authfile::Credentials{};
    const std::string password = read_password();
    if (password.empty()) {
      std::cerr << "iotgw-auth-file: an empty password is not a password\n";
      return 2;
    }
    std::erase_if(creds.users, [&](const auto& u) { return u.user == argv[3]; });
    creds.users.push_back(iotgw::authfile::hash_user(argv[3], argv[4], password));
    creds.save(file);
    std::cout << "user " << argv[3] << " -> device " << argv[4] << " written to " << file.string()
              << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "iotgw-auth-file: " << e.what() << "\n";
    return 1;
  }
}
