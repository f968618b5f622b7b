package demo;

final class HelloCheck {
  private HelloCheck() {}

  static boolean greetsByName() {
    return Hello.greet("gradle").startsWith("hello, gradle");
  }
}
